"""How patients are told about an incident that touched their data: an interface with development
implementations (no real SMS is sent from here; a deployment plugs in its SMS or WeChat gateway)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Notifier(Protocol):
    channel: str

    def notify(self, patient_id: str, message: str) -> bool:
        """Send `message` to the patient; True when it was handed over for delivery."""
        ...


@dataclass
class NullNotifier:
    """Records what would have been sent (tests)."""

    channel: str = "null"
    sent: list[tuple[str, str]] = field(default_factory=list)

    def notify(self, patient_id: str, message: str) -> bool:
        self.sent.append((patient_id, message))
        return True


@dataclass
class ConsoleNotifier:
    """Prints each notification (development, `yilian audit incident notify`)."""

    channel: str = "console"
    out: object = None  # anything with .print (a rich Console); print() when None

    def notify(self, patient_id: str, message: str) -> bool:
        line = f"[notify] Patient/{patient_id}: {message}"
        if self.out is not None:
            self.out.print(line)  # type: ignore[attr-defined]
        else:
            print(line)
        return True

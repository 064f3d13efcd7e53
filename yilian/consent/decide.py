"""The consent decision, as a pure function (property-tested; filters.py is its SQL twin).

Within the patient's consents the newest applicable grant wins (an exception inside a consent beats its
base provision); ties deny; no applicable grant is NO_CONSENT, which denies. Level-5 data is only
covered by a grant that names its sensitivity class explicitly. Layers combine by deny-overrides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from yilian.consent.model import ANY, Grant

PERMIT, DENY, NO_CONSENT = "permit", "deny", "no-consent"


@dataclass(frozen=True)
class Request:
    purpose: str
    recipient: str  # the requesting member
    resource_type: str
    level: int
    sensitivity: str | None
    at: float


@dataclass(frozen=True)
class Decision:
    outcome: str  # PERMIT, DENY or NO_CONSENT
    consent_id: str | None = None

    @property
    def permitted(self) -> bool:
        return self.outcome == PERMIT


def applies(g: Grant, r: Request) -> bool:
    if g.purpose not in (ANY, r.purpose) or g.recipient not in (ANY, r.recipient):
        return False
    if not g.start <= r.at <= g.end:
        return False
    if r.level >= 5:
        return g.data_class == r.sensitivity
    return g.data_class in (ANY, r.resource_type)


def decide(grants: Iterable[Grant], request: Request) -> Decision:
    best = None
    for g in grants:
        if applies(g, request) and (best is None or _rank(g) > _rank(best)):
            best = g
    if best is None:
        return Decision(NO_CONSENT)
    return Decision(PERMIT if best.permit else DENY, best.consent_id)


def _rank(g: Grant) -> tuple:
    # newest first, then the deeper (more specific) provision, then deny over permit on a tie
    return (g.recorded, g.depth, not g.permit)


def combine(*layers: Decision) -> Decision:
    """Deny-overrides across layers (law and policy, agreement, level controls, patient consent)."""
    for d in layers:
        if not d.permitted:
            return d
    return layers[-1] if layers else Decision(NO_CONSENT)

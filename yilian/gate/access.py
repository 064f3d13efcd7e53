"""What one request did, handed to the gate's observers (the audit log) when the request ends.

Observers are called inside the request's database transaction (so a write's audit row commits with
it) when it succeeded, and after the rollback when it failed (so a refusal is recorded too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection

from yilian.gate.caller import Caller

if TYPE_CHECKING:
    from yilian.fhir.messages import FhirRequest, FhirResponse
    from yilian.fhir.outcomes import FhirError
    from yilian.store.repository import Stored


@dataclass
class Access:
    caller: Caller
    request: FhirRequest
    action: str  # "read", "search", "create", "update", "delete", "history", "everything", "transaction"...
    touched: list[Stored] = field(default_factory=list)  # every resource version the caller saw or wrote
    response: FhirResponse | None = None
    error: FhirError | None = None
    conn: Connection | None = None  # the open transaction (None once a failed request rolled back)
    writing: bool = False
    notes: dict = field(default_factory=dict)  # decisions made on the way (consent ids, break-glass...)


class Observer(Protocol):
    """Told of every request. An observer may also define `before_commit(conn)`: the gate calls it at the
    end of each write transaction, before committing, to write what it gathered from that transaction's
    requests in one go."""

    def observe(self, access: Access) -> None: ...

"""Alerts for the security officer, computed from the audit log (and, for care relationships, the store).

- volume: a user who read more distinct patients within a day than `Settings.anomaly_patients`;
- no care relationship: a user who read, for treatment, a patient with whom their organisation has no
  Encounter (serviceProvider or source member), EpisodeOfCare (managingOrganization or source) or CareTeam
  (managingOrganization, a participant, or source) in the record;
- denials: a user refused (401, 403, or 404: the gate hides what a caller may not see)
  `Settings.anomaly_denials` times within an hour.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, cast, func, select

from yilian.audit.access_log import READ_ACTIONS
from yilian.audit.tables import audit_event, audit_patient
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate

E = audit_event.c
P = audit_patient.c
MONITOR = Caller("security-monitor", "安全监测 Security monitor", None, frozenset({"admin"}), "HOPERAT")
CARE_TYPES = ("Encounter", "EpisodeOfCare", "CareTeam")
# Refusals: unauthenticated, forbidden, and "not found" (what the gate answers for a record the caller may
# not see, so that its existence does not leak): repeated, they are probing.
REFUSED = (401, 403, 404)
DAY = 86400.0
HOUR = 3600.0


@dataclass
class Alert:
    kind: str  # volume, no-care-relationship, denials
    user_id: str
    member: str | None
    count: int  # patients read, accesses, or refusals
    first: float
    last: float
    patients: list[str]


def alerts(
    conn: Connection, gate: Gate, *, patients_per_day: int, denials: int, since: float | None = None
) -> list[Alert]:
    """The alerts since `since`. Care relationships are read from the record through the gate, as the
    security monitor (a system caller), so that read is scoped and audited like any other."""
    since = time.time() - DAY if since is None else since
    found = (
        volume(conn, since, patients_per_day)
        + outside_care(conn, gate, since)
        + refusals(conn, since, denials)
    )
    return sorted(found, key=lambda a: -a.last)


def _reads(since: float):  # noqa: ANN202 - a join of events and patients, successful reads only
    return (
        select(E.user_id, E.member, E.recorded, P.patient_id)
        .join_from(audit_event, audit_patient, P.seq == E.seq)
        .where(E.recorded >= since, E.outcome < 400, E.action.in_(READ_ACTIONS))
    )


def volume(conn: Connection, since: float, threshold: int) -> list[Alert]:
    """Users who read more than `threshold` distinct patients within one day since `since`."""
    reads = _reads(since).subquery()
    day = cast(reads.c.recorded / DAY, Integer)  # a 24-hour bucket (no floor() in every SQLite)
    stmt = (
        select(
            reads.c.user_id,
            reads.c.member,
            day.label("day"),
            func.count(reads.c.patient_id.distinct()),
            func.min(reads.c.recorded),
            func.max(reads.c.recorded),
        )
        .group_by(reads.c.user_id, reads.c.member, day)
        .having(func.count(reads.c.patient_id.distinct()) > threshold)
    )
    return [Alert("volume", r[0], r[1], int(r[3]), r[4], r[5], []) for r in conn.execute(stmt)]


def outside_care(conn: Connection, gate: Gate, since: float) -> list[Alert]:
    """Treatment reads of patients the user's organisation has no care relationship with."""
    reads = _reads(since).where(E.purpose == "TREAT", E.member.is_not(None)).subquery()
    pairs = conn.execute(
        select(
            reads.c.user_id,
            reads.c.member,
            reads.c.patient_id,
            func.min(reads.c.recorded),
            func.max(reads.c.recorded),
        ).group_by(reads.c.user_id, reads.c.member, reads.c.patient_id)
    ).all()
    if not pairs:
        return []
    with gate.reading(MONITOR) as repo:
        cared = repo.care_relationships(sorted({p[2] for p in pairs}), CARE_TYPES)
    by_user: dict[tuple[str, str], list] = defaultdict(list)
    for user, member, patient, first, last in pairs:
        if (patient, member) not in cared:
            by_user[(user, member)].append((patient, first, last))
    return [
        Alert(
            "no-care-relationship",
            user,
            member,
            len(rows),
            min(r[1] for r in rows),
            max(r[2] for r in rows),
            sorted(r[0] for r in rows),
        )
        for (user, member), rows in by_user.items()
    ]


def refusals(conn: Connection, since: float, threshold: int) -> list[Alert]:
    """Users refused `threshold` times or more within any hour."""
    rows = conn.execute(
        select(E.user_id, E.member, E.recorded)
        .where(E.recorded >= since, E.outcome.in_(REFUSED))
        .order_by(E.user_id, E.recorded)
    ).all()
    by_user: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for user, member, when in rows:
        by_user[(user or "", member)].append(when)
    found = []
    for (user, member), times in by_user.items():
        worst, start = 0, 0
        for end in range(len(times)):
            while times[end] - times[start] > HOUR:
                start += 1
            worst = max(worst, end - start + 1)
        if worst >= threshold:
            found.append(Alert("denials", user, member, worst, times[0], times[-1], []))
    return found

"""The consent decision as SQL over `consent_grants`, for the gate to put in every read's WHERE clause.

Twin of decide.py (a property test checks they agree): for each patient whose compartment holds the row,
the newest applicable grant (deeper provision first, deny first on a tie) must permit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true

from yilian.consent.model import ANY
from yilian.consent.tables import consent_grants
from yilian.store.repository import patient_param
from yilian.store.tables import compartment, resources

R = resources.c
G = consent_grants.c


def newest_permit(patient_id, purpose: str, recipient: str, at: float):  # noqa: ANN001, ANN201
    """Scalar subquery: the permit flag of the newest applicable grant for `patient_id`, or NULL."""
    class_matches = or_(
        and_(R.level < 5, G.data_class.in_([ANY]) | (G.data_class == R.type)),
        and_(R.level >= 5, G.data_class == R.sensitivity),
    )
    return (
        select(G.permit)
        .where(
            G.patient_id == patient_id,
            G.purpose.in_([purpose, ANY]),
            G.recipient.in_([recipient, ANY]),
            G.start <= at,
            G.end >= at,
            class_matches,
        )
        .order_by(G.recorded.desc(), G.depth.desc(), G.permit.asc())
        .limit(1)
        .correlate_except(consent_grants)  # the row's level, type and sensitivity come from the outer query
        .scalar_subquery()
    )


def consented(purpose: str, recipient: str, at: float) -> ColumnElement[bool]:
    """Rows in at least one patient compartment whose every patient's newest applicable grant permits."""
    c = compartment.alias("cc")
    in_some = exists().where(c.c.rid == R.rid)
    refused = exists().where(
        c.c.rid == R.rid,
        func.coalesce(newest_permit(c.c.patient_id, purpose, recipient, at), false()) == false(),
    )
    return and_(in_some, not_(refused))


@dataclass(frozen=True)
class PatientDecisions:
    """One patient's consents decided up front (decide.py) for one purpose and recipient, per data class:
    hashable facts, so the SQL that enforces them is built once and reused for every patient alike."""

    purpose: str
    recipient: str
    unnamed_permitted: bool  # resource types no grant names
    named_permitted: tuple[str, ...]  # resource types some grant names, permitted
    named_refused: tuple[str, ...]
    sensitive_permitted: tuple[str, ...]  # level-5 classes (HIV, MENTAL...) permitted
    # The Consents behind the permits, for the audit trail: not part of the shape the SQL is cached by.
    consents: tuple[str, ...] = field(default=(), compare=False)


def decide_for_patient(grants: list, purpose: str, recipient: str, at: float) -> PatientDecisions:
    from yilian.consent.decide import Request, decide

    permits: set[str] = set()

    def permitted(rtype: str, level: int, sensitivity: str | None) -> bool:
        d = decide(grants, Request(purpose, recipient, rtype, level, sensitivity, at))
        if d.permitted and d.consent_id:
            permits.add(d.consent_id)
        return d.permitted

    named = {g.data_class for g in grants if g.data_class != ANY}
    types = sorted(t for t in named if t[:1].isupper() and t.upper() != t)  # resource types, not classes
    classes = sorted(t for t in named if t.upper() == t)
    allowed = tuple(t for t in types if permitted(t, 4, None))
    unnamed = permitted("__unnamed__", 4, None)
    sensitive = tuple(c for c in classes if permitted("", 5, c))
    refused = tuple(t for t in types if t not in allowed)
    return PatientDecisions(purpose, recipient, unnamed, allowed, refused, sensitive, tuple(sorted(permits)))


@lru_cache(maxsize=1024)
def consented_for_patient(d: PatientDecisions, minute: int) -> ColumnElement[bool]:
    """`consented` for the rows of one patient's compartment (the `patient_id` bind parameter), with the
    patient's decisions made up front: one compartment lookup per row instead of a grant subquery. Rows
    that are in another patient's compartment too still need that patient's consent (SQL check). Built
    once per decision shape and minute: building the expression costs more than running it."""
    # Constant parts stay constants (an empty IN list would become a subquery SQLite runs per query).
    if d.unnamed_permitted:
        level4 = not_(R.type.in_(d.named_refused)) if d.named_refused else true()
    else:
        level4 = R.type.in_(d.named_permitted) if d.named_permitted else false()
    level5 = R.sensitivity.in_(d.sensitive_permitted) if d.sensitive_permitted else false()
    own = select(compartment.c.rid).where(compartment.c.patient_id == patient_param())
    # Rows that are also in another patient's compartment need that patient's consent too: only they
    # pay for the general check (an uncorrelated list, computed once per query).
    shared = select(compartment.c.rid).where(
        compartment.c.patient_id != patient_param(), compartment.c.rid.in_(own)
    )
    by_class = or_(and_(R.level < 5, level4), and_(R.level >= 5, level5))
    general = consented_now(d.purpose, d.recipient, minute * 60.0)
    return and_(R.rid.in_(own), by_class, or_(R.rid.not_in(shared), general))


def consented_now(purpose: str, recipient: str, at: float) -> ColumnElement[bool]:
    """`consented` at `at` rounded down to the minute, built once per minute (building the expression
    costs more than evaluating it; consent periods are honoured to the minute)."""
    return _consented_at_minute(purpose, recipient, int(at // 60))


@lru_cache(maxsize=1024)
def _consented_at_minute(purpose: str, recipient: str, minute: int) -> ColumnElement[bool]:
    return consented(purpose, recipient, minute * 60.0)

"""The data-quality report of each member's feeds: volumes, rejection reasons, unmapped codes,
completeness of the WS 365 / WS 445 core fields, and timeliness (clinical event -> arrival).

Message figures come from ingest's own tables; clinical figures (how many resources, how many carry each
core field) are counted through the router (`_summary=count` searches), as the caller may see them.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from yilian.alliance.codes import RESIDENT_ID, SOURCE_MEMBER
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate
from yilian.ingest.codes import ICD10, LOINC, NHSA_DRUG
from yilian.ingest.tables import ingest_messages, ingest_unmapped

M, U = ingest_messages.c, ingest_unmapped.c

# (resource type, data element as WS 365 / WS 445 name it, search that finds the resources carrying it)
CORE_FIELDS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("Patient", "姓名 name", ("name:missing", "false")),
    ("Patient", "性别 gender", ("gender:missing", "false")),
    ("Patient", "出生日期 birth date", ("birthdate:missing", "false")),
    ("Patient", "身份证件号码 resident ID", ("identifier", f"{RESIDENT_ID}|")),
    ("Patient", "联系电话 phone", ("phone:missing", "false")),
    ("Patient", "现住址 address", ("address:missing", "false")),
    ("Encounter", "就诊日期时间 visit date", ("date:missing", "false")),
    ("Encounter", "接诊医生 attending clinician", ("participant:missing", "false")),
    ("Condition", "疾病诊断编码 ICD-10 code", ("code", f"{ICD10}|")),
    ("Condition", "诊断日期 diagnosis date", ("recorded-date:missing", "false")),
    ("Observation", "检查/检验项目 LOINC code", ("code", f"{LOINC}|")),
    ("Observation", "检查/检验日期 date", ("date:missing", "false")),
    ("MedicationRequest", "药品编码 NHSA drug code", ("code", f"{NHSA_DRUG}|")),
    ("MedicationRequest", "处方开立日期 date written", ("authoredon:missing", "false")),
    ("MedicationRequest", "处方开立医师 prescriber", ("requester:missing", "false")),
    ("DiagnosticReport", "报告日期 issued", ("issued:missing", "false")),
)
RESOURCE_TYPES = tuple(dict.fromkeys(t for t, _, _ in CORE_FIELDS))


@dataclass
class Completeness:
    rtype: str
    element: str
    present: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.present / self.total if self.total else None


@dataclass
class MemberQuality:
    member: str
    messages: Counter = field(default_factory=Counter)  # status -> count
    kinds: dict[str, Counter] = field(default_factory=dict)  # kind -> status -> count
    reasons: list[tuple[str, int]] = field(default_factory=list)
    unmapped: list[tuple[str, str, str | None, int]] = field(default_factory=list)  # kind, code, display, n
    resources: dict[str, int] = field(default_factory=dict)
    completeness: list[Completeness] = field(default_factory=list)
    delays_h: list[float] = field(default_factory=list)

    @property
    def rejection_rate(self) -> float | None:
        done = self.messages["processed"] + self.messages["rejected"]
        return self.messages["rejected"] / done if done else None

    def delay(self, q: float) -> float | None:
        if not self.delays_h:
            return None
        if len(self.delays_h) == 1:
            return self.delays_h[0]
        return statistics.quantiles(self.delays_h, n=100, method="inclusive")[int(q * 100) - 1]

    @property
    def within_24h(self) -> float | None:
        return sum(d <= 24 for d in self.delays_h) / len(self.delays_h) if self.delays_h else None


def report(
    gate: Gate, caller: Caller, member: str | None = None, *, clinical: bool = True
) -> list[MemberQuality]:
    out = _messages(gate.engine, member)
    if clinical:
        for q in out.values():
            _clinical(gate, caller, q)
    return [out[m] for m in sorted(out)]


def _messages(engine: Engine, member: str | None) -> dict[str, MemberQuality]:
    where = [M.member == member] if member else [M.member.is_not(None)]
    out: dict[str, MemberQuality] = defaultdict(lambda: MemberQuality(""))
    with engine.connect() as conn:
        for m, kind, status, n in conn.execute(
            select(M.member, M.kind, M.status, func.count())
            .where(*where)
            .group_by(M.member, M.kind, M.status)
        ):
            q = out[m]
            q.member = m
            q.messages[status] += n
            q.kinds.setdefault(kind, Counter())[status] += n
        for m, error, n in conn.execute(
            select(M.member, M.error, func.count())
            .where(*where, M.status == "rejected")
            .group_by(M.member, M.error)
            .order_by(func.count().desc())
        ):
            out[m].reasons.append((error or "", n))
        u_where = [U.member == member] if member else [U.member.is_not(None)]
        for m, kind, code, display, n in conn.execute(
            select(U.member, U.kind, U.code, func.max(U.display), func.count())
            .where(*u_where)
            .group_by(U.member, U.kind, U.code)
            .order_by(func.count().desc())
        ):
            out[m].unmapped.append((kind, code, display, n))
        for m, delay in conn.execute(
            select(M.member, M.received_at - M.event_at).where(
                *where, M.status == "processed", M.event_at.is_not(None)
            )
        ):
            out[m].delays_h.append(max(delay, 0) / 3600)
    return {k: v for k, v in out.items() if v.member}


def _count(gate: Gate, caller: Caller, rtype: str, member: str, criteria: tuple[str, str] | None) -> int:
    query = [("_tag", f"{SOURCE_MEMBER}|{member}"), ("_summary", "count")]
    if criteria:
        query.append(criteria)
    try:
        body = handle(gate, caller, FhirRequest("GET", rtype, query=query)).resource() or {}
    except FhirError:
        return 0
    return int(body.get("total") or 0)


def _clinical(gate: Gate, caller: Caller, q: MemberQuality) -> None:
    q.resources = {t: _count(gate, caller, t, q.member, None) for t in RESOURCE_TYPES}
    q.completeness = [
        Completeness(
            t, element, _count(gate, caller, t, q.member, criteria) if q.resources[t] else 0, q.resources[t]
        )
        for t, element, criteria in CORE_FIELDS
    ]

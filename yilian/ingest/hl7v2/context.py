"""What the mapping of one HL7 v2 message works with: the message, the member, its code map, the Bundle
being built, and the Patient, Encounter and clinicians already added to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.alliance.codes import BASE
from yilian.ingest.bundle import MappedBundle
from yilian.ingest.codes import CodeMap, is_standard
from yilian.ingest.errors import REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.message import Message, Rep, Segment
from yilian.ingest.hl7v2.types import c, member_system, ts, xcn


def staff_system(member: str | None) -> str:
    """Clinicians are keyed on the member's staff number (the system the demo's rosters use too)."""
    return f"{BASE}/NamingSystem/staff/{member or 'unknown'}"


def role_system(member: str | None) -> str:
    """A clinician's PractitionerRole at the member is keyed on the same staff number, in this system."""
    return f"{staff_system(member)}/role"


@dataclass
class V2Context:
    msg: Message
    member: str | None
    codes: CodeMap
    out: MappedBundle = field(default_factory=MappedBundle)
    patient: dict | None = None
    encounter: dict | None = None
    event_at: str | None = None  # the clinical event's time (for timeliness)
    merges: list[dict] = field(default_factory=list)  # A40: prior patient identifiers to retire
    _staff: dict[str, dict] = field(default_factory=dict)

    @property
    def org(self) -> dict:
        return {"reference": f"Organization/{self.member}"} if self.member else {}

    def key(self, what: str, value: str) -> dict:
        return {"system": member_system(self.member, what), "value": value}

    def need(self, seg: Segment, n: int, what: str) -> str:
        value = seg.get(n)
        if not value:
            raise IngestError(
                f"{seg.id}-{n} ({what}) is empty", location=f"{seg.id}-{n}", code=REQUIRED_MISSING
            )
        return value

    def time(self, seg: Segment | None, n: int) -> str | None:
        return ts(seg.get(n), f"{seg.id}-{n}") if seg is not None else None

    def message_time(self) -> str | None:
        return ts(self.msg.msh.get(7), "MSH-7")

    def clinician(self, rep: Rep | None) -> dict | None:
        """A reference to the clinician an XCN names: a Practitioner keyed on the staff number, or only
        a display when the sender gave a name without a number."""
        who = xcn(rep) if rep else None
        if who is None:
            return None
        ident, family, given = who
        name = (
            family + given
            if any("\u4e00" <= ch <= "\u9fff" for ch in family + given)
            else f"{given} {family}"
        )
        name = name.strip()
        if not ident:
            return {"display": name} if name else None
        if ident not in self._staff:
            practitioner: dict = {"resourceType": "Practitioner", "active": True}
            if name:
                human = {"text": name, "family": family, "given": [given] if given else []}
                practitioner["name"] = [{k: v for k, v in human.items() if v}]
            ref = self.out.create(practitioner, {"system": staff_system(self.member), "value": ident})
            self._staff[ident] = {**ref, "display": name} if name else ref
        return dict(self._staff[ident])

    def clinician_of(self, seg: Segment, n: int) -> dict | None:
        reps = seg.reps(n)
        return self.clinician(reps[0]) if reps else None

    def ndl(self, seg: Segment, n: int) -> dict | None:
        """NDL (OBR-32/33): the name sits in component 1 as subcomponents id & family & given."""
        reps = seg.reps(n)
        if not reps or not reps[0]:
            return None
        subs = reps[0][0] + ["", "", ""]
        return self.clinician([[subs[0]], [subs[1]], [subs[2]]])


def first_rep(seg: Segment, n: int) -> Rep:
    reps = seg.reps(n)
    return reps[0] if reps else []


def cwe(ctx: V2Context, seg: Segment, n: int, kind: str) -> dict:
    """A CE/CWE field as a CodeableConcept through the member's code map (the alternate triplet, 4-6,
    is used when it is the standard one)."""
    return concept_of(ctx, first_rep(seg, n), kind)


def concept_of(ctx: V2Context, rep: Rep, kind: str) -> dict:
    code, text, system = c(rep, 1), c(rep, 2), c(rep, 3)
    alt_code, alt_text, alt_system = c(rep, 4), c(rep, 5), c(rep, 6)
    alt_standard = bool(alt_code) and is_standard(alt_system)
    concept = ctx.codes.concept(kind, code, text, system, record=not alt_standard)
    if alt_standard:
        for coding in ctx.codes.concept(kind, alt_code, alt_text, alt_system)["coding"]:
            if coding not in concept.setdefault("coding", []):
                concept["coding"].insert(0, coding)
    if not concept.get("text") and c(rep, 9):
        concept["text"] = c(rep, 9)
    return concept

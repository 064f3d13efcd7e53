"""PID to Patient and PV1 to Encounter.

The Patient is keyed on the member's medical-record number (the PID-3 repetition typed MR, else the
first one). A registration message (ADT) owns the demographics and updates them; any other message
only creates the Patient when the member has not registered it yet, never overwriting what ADT said.
"""

from __future__ import annotations

from yilian.ingest.errors import REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.context import V2Context, cwe
from yilian.ingest.hl7v2.message import Segment
from yilian.ingest.hl7v2.types import c, cx, date_only, xad, xpn, xtn

GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}


def patient_resource(ctx: V2Context, pid: Segment) -> tuple[dict, dict]:
    """The Patient a PID describes, and the identifier it is keyed on."""
    identifiers = [i for rep in pid.reps(3) if (i := cx(rep, ctx.member))]
    identifiers += [i for rep in pid.reps(2) if (i := cx(rep, ctx.member)) and i not in identifiers]
    if not identifiers:
        raise IngestError(
            "PID-3 (patient identifier list) is empty: the patient cannot be identified",
            location="PID-3",
            code=REQUIRED_MISSING,
        )
    key = next((i for i in identifiers if _type(i) == "MR"), identifiers[0])
    patient: dict = {"resourceType": "Patient", "identifier": identifiers, "active": True}
    if names := [n for rep in pid.reps(5) if (n := xpn(rep))]:
        patient["name"] = names
    telecom = [t for rep in pid.reps(13) if (t := xtn(rep, "home"))]
    telecom += [t for rep in pid.reps(14) if (t := xtn(rep, "work"))]
    if telecom:
        patient["telecom"] = telecom
    gender = pid.get(8).upper()
    if gender:
        patient["gender"] = GENDER.get(gender, "unknown")
    if birth := date_only(pid.get(7), "PID-7"):
        patient["birthDate"] = birth
    if pid.get(30).upper() == "Y" or pid.get(29):
        patient["deceasedDateTime" if pid.get(29) else "deceasedBoolean"] = (
            ctx.time(pid, 29) if pid.get(29) else True
        )
    if addresses := [a for rep in pid.reps(11) if (a := xad(rep))]:
        patient["address"] = addresses
    if ctx.member:
        patient["managingOrganization"] = ctx.org
    return patient, key


def _type(identifier: dict) -> str:
    return next((cd.get("code", "") for cd in identifier.get("type", {}).get("coding", [])), "")


def add_patient(ctx: V2Context, *, owns_demographics: bool) -> dict:
    pid = ctx.msg.need("PID")
    patient, key = patient_resource(ctx, pid)
    if owns_demographics:
        ctx.patient = ctx.out.upsert(patient, key)
    else:
        ctx.patient = ctx.out.create(patient, key)
    return ctx.patient


# --- PV1: the visit ----------------------------------------------------------------------------------

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLASSES = {
    "I": ("IMP", "inpatient encounter"),
    "O": ("AMB", "ambulatory"),
    "E": ("EMER", "emergency"),
    "P": ("PRENC", "pre-admission"),
    "R": ("AMB", "ambulatory"),
    "B": ("AMB", "ambulatory"),
    "C": ("AMB", "ambulatory"),
}
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def has_visit(pv1: Segment | None) -> bool:
    """PV1 describes a visit (not the 'not applicable' PV1 that A28/A31 carry)."""
    return pv1 is not None and pv1.get(2).upper() not in ("", "N") or bool(pv1 and pv1.get(19))


def encounter_resource(ctx: V2Context, pv1: Segment, status: str | None = None) -> tuple[dict, dict]:
    number = pv1.get(19) or ctx.msg.control_id
    key = ctx.key("visit" if pv1.get(19) else "message-visit", number)
    cls = CLASSES.get(pv1.get(2).upper(), ("AMB", "ambulatory"))
    start, end = ctx.time(pv1, 44), ctx.time(pv1, 45)
    enc: dict = {
        "resourceType": "Encounter",
        "status": status or ("finished" if end else "in-progress"),
        "class": {"system": ACT_CODE, "code": cls[0], "display": cls[1]},
    }
    if pv1.get(4):
        enc["type"] = [cwe(ctx, pv1, 4, "visit-type")]
    if pv1.get(10):
        enc["serviceType"] = cwe(ctx, pv1, 10, "department")
    if ctx.patient:
        enc["subject"] = ctx.patient
    participants = []
    for n, code in ((7, "ATND"), (8, "REF"), (9, "CON")):
        for rep in pv1.reps(n):
            if who := ctx.clinician(rep):
                participants.append(
                    {"type": [{"coding": [{"system": PARTICIPATION, "code": code}]}], "individual": who}
                )
    if participants:
        enc["participant"] = participants
    if start or end:
        enc["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if location := " ".join(x for x in (c(r, i) for r in pv1.reps(3)[:1] for i in (1, 2, 3)) if x):
        enc["location"] = [{"location": {"display": location}}]
    if ctx.member:
        enc["serviceProvider"] = ctx.org
    return enc, key


def add_encounter(ctx: V2Context, *, owns_visit: bool, status: str | None = None) -> dict | None:
    pv1 = ctx.msg.first("PV1")
    if not has_visit(pv1):
        return None
    assert pv1 is not None
    enc, key = encounter_resource(ctx, pv1, status)
    if pv2 := ctx.msg.first("PV2"):
        if pv2.get(3):
            enc["reasonCode"] = [cwe(ctx, pv2, 3, "diagnosis")]
        if "period" not in enc and pv2.get(8):  # a planned visit: the expected admission and discharge
            expected = {"start": ctx.time(pv2, 8), "end": ctx.time(pv2, 9)}
            enc["period"] = {k: v for k, v in expected.items() if v}
    ctx.encounter = ctx.out.upsert(enc, key) if owns_visit else ctx.out.create(enc, key)
    return ctx.encounter

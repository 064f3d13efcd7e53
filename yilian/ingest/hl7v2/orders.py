"""Orders: ORM^O01 and OML^O21 (ORC + OBR) to ServiceRequest; RDE^O11/O25 (ORC + RXE) and pharmacy
orders carried as RXO to MedicationRequest.

An order is keyed on its placer order number (ORC-2, else OBR-2, else the filler number), so a status
change (ORC-1 CA/DC, ORC-5 CM) updates the order it is about.
"""

from __future__ import annotations

from yilian.ingest.codes import SNOMED, UCUM
from yilian.ingest.hl7v2.context import V2Context, cwe, first_rep
from yilian.ingest.hl7v2.message import Segment
from yilian.ingest.hl7v2.types import c, number

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
# ORC-1 order control and ORC-5 order status to FHIR request status.
CONTROL_STATUS = {
    "CA": "revoked",
    "OC": "revoked",
    "DC": "revoked",
    "OD": "revoked",
    "HD": "on-hold",
    "OH": "on-hold",
    "RL": "active",
    "NW": "active",
    "XO": "active",
    "SC": None,
    "RE": None,
}
ORDER_STATUS = {
    "CM": "completed",
    "CA": "revoked",
    "DC": "revoked",
    "HD": "on-hold",
    "IP": "active",
    "SC": "active",
    "A": "active",
    "ER": "entered-in-error",
}
MED_STATUS = {
    "revoked": "cancelled",
    "on-hold": "on-hold",
    "completed": "completed",
    "active": "active",
    "entered-in-error": "entered-in-error",
}
ORDER_TYPE = {"I": "inpatient", "O": "outpatient", "D": "discharge", "C": "community"}
# HL7 table 0162 routes with their SNOMED CT equivalents.
ROUTES = {
    "PO": ("26643006", "Oral route", "口服"),
    "SC": ("34206005", "Subcutaneous route", "皮下注射"),
    "IH": ("447694001", "Respiratory tract route", "吸入"),
    "IM": ("78421000", "Intramuscular route", "肌内注射"),
    "IV": ("47625008", "Intravenous route", "静脉注射"),
    "TP": ("6064005", "Topical route", "外用"),
}
# Repeat patterns (TQ1-3 / TQ-2) as timing: times per period of days.
FREQUENCY = {
    "QD": (1, 1),
    "BID": (2, 1),
    "TID": (3, 1),
    "QID": (4, 1),
    "QN": (1, 1),
    "QOD": (1, 2),
    "Q8H": (3, 1),
    "Q12H": (2, 1),
    "Q6H": (4, 1),
    "QW": (1, 7),
    "ONCE": (1, 1),
}


def status_of(orc: Segment | None) -> str:
    if orc is None:
        return "active"
    by_status = ORDER_STATUS.get(orc.get(5).upper())
    return by_status or CONTROL_STATUS.get(orc.get(1).upper()) or "active"


def order_key(ctx: V2Context, orc: Segment | None, other: Segment | None, index: int, what: str) -> dict:
    number_ = (orc.get(2) if orc else "") or (other.get(2) if other else "") or (orc.get(3) if orc else "")
    return ctx.key(what, number_ or f"{ctx.msg.control_id}-{index}")


def _pairs(ctx: V2Context, detail: tuple[str, ...]) -> list[tuple[Segment | None, Segment]]:
    """Each detail segment (OBR, RXE, RXO) with the ORC before it."""
    out, orc = [], None
    for seg in ctx.msg.segments:
        if seg.id == "ORC":
            orc = seg
        elif seg.id in detail:
            out.append((orc, seg))
    return out


def add_service_requests(ctx: V2Context) -> None:
    for i, (orc, obr) in enumerate(_pairs(ctx, ("OBR",)), start=1):
        section = obr.get(24).upper()
        kind = "exam" if section in ("RAD", "CT", "US", "DX", "MR", "NM", "XA", "CR", "RX") else "lab"
        sr: dict = {
            "resourceType": "ServiceRequest",
            "status": status_of(orc),
            "intent": "order",
            "code": cwe(ctx, obr, 4, kind),
        }
        if ctx.patient:
            sr["subject"] = ctx.patient
        if ctx.encounter:
            sr["encounter"] = ctx.encounter
        if authored := ctx.time(orc, 9) if orc else None:
            sr["authoredOn"] = authored
            ctx.event_at = ctx.event_at or authored
        if requester := (ctx.clinician_of(orc, 12) if orc else None) or ctx.clinician_of(obr, 16):
            sr["requester"] = requester
        if obr.get(27, 6).upper() in ("S", "A") or obr.get(5).upper() in ("S", "A"):
            sr["priority"] = "stat"
        if obr.get(31):
            sr["reasonCode"] = [cwe(ctx, obr, 31, "diagnosis")]
        ctx.out.upsert(sr, order_key(ctx, orc, obr, i, "order"))
    for i, (orc, rxo) in enumerate(_pairs(ctx, ("RXO",)), start=1):
        _medication(ctx, orc, rxo, i, give=(1, 2, 4, 5), instructions=7)


def add_medication_requests(ctx: V2Context) -> None:
    pairs = _pairs(ctx, ("RXE",)) or _pairs(ctx, ("RXO",))
    if not pairs:
        from yilian.ingest.errors import REQUIRED_MISSING, IngestError

        raise IngestError(
            f"{ctx.msg.name} has no RXE (or RXO) segment: no prescription to record",
            location="RXE",
            code=REQUIRED_MISSING,
        )
    for i, (orc, seg) in enumerate(pairs, start=1):
        if seg.id == "RXE":
            _medication(ctx, orc, seg, i, give=(2, 3, 5, 6), instructions=7)
        else:
            _medication(ctx, orc, seg, i, give=(1, 2, 4, 5), instructions=7)


def _medication(
    ctx: V2Context, orc: Segment | None, seg: Segment, index: int, *, give: tuple, instructions: int
) -> None:
    code_n, amount_n, units_n, _form_n = give
    mr: dict = {
        "resourceType": "MedicationRequest",
        "status": MED_STATUS.get(status_of(orc), "active"),
        "intent": "order",
    }
    if orc is not None and (cat := ORDER_TYPE.get(orc.get(29).upper())):
        mr["category"] = [{"coding": [{"system": f"{TERMINOLOGY}/medicationrequest-category", "code": cat}]}]
    mr["medicationCodeableConcept"] = cwe(ctx, seg, code_n, "drug")
    if ctx.patient:
        mr["subject"] = ctx.patient
    if ctx.encounter:
        mr["encounter"] = ctx.encounter
    if authored := ctx.time(orc, 9) if orc else None:
        mr["authoredOn"] = authored
        ctx.event_at = ctx.event_at or authored
    if requester := ctx.clinician_of(orc, 12) if orc else None:
        mr["requester"] = requester
    mr["dosageInstruction"] = [_dosage(ctx, seg, amount_n, units_n, instructions)]
    days = _supply_days(ctx)
    if days:
        mr["dispenseRequest"] = {
            "expectedSupplyDuration": {"value": days, "unit": "天", "system": UCUM, "code": "d"}
        }
    key = order_key(ctx, orc, None, index, "prescription")
    ctx.out.upsert(mr, key)


def _dosage(ctx: V2Context, seg: Segment, amount_n: int, units_n: int, instructions_n: int) -> dict:
    dosage: dict = {}
    rep = first_rep(seg, instructions_n)
    if text := c(rep, 2) or c(rep, 1):
        dosage["text"] = text
    tq1 = ctx.msg.first("TQ1")
    pattern = (tq1.get(3) if tq1 else "") or (seg.get(1, 2) if seg.id == "RXE" else "")
    if pattern.upper() in FREQUENCY:
        freq, period = FREQUENCY[pattern.upper()]
        dosage["timing"] = {
            "repeat": {"frequency": freq, "period": period, "periodUnit": "d"},
            "code": {"text": pattern},
        }
    if rxr := ctx.msg.first("RXR"):
        route = rxr.get(1).upper()
        codings = [{"system": f"{TERMINOLOGY}/v2-0162", "code": route}]
        if route in ROUTES:
            sct, display, zh = ROUTES[route]
            codings.insert(0, {"system": SNOMED, "code": sct, "display": display})
            dosage["route"] = {"coding": codings, "text": zh}
        elif route:
            dosage["route"] = {"coding": codings, "text": rxr.get(1, 2) or route}
    if seg.get(amount_n):
        unit_rep = first_rep(seg, units_n)
        dose = {"value": number(seg.get(amount_n), f"{seg.id}-{amount_n}")}
        if unit := c(unit_rep, 1):
            dose.update(unit=c(unit_rep, 2) or unit, system=UCUM, code=unit)
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    return dosage


def _supply_days(ctx: V2Context) -> float | None:
    tq1 = ctx.msg.first("TQ1")
    if tq1 is None or not tq1.get(6):
        return None
    unit = tq1.get(6, 2).lower()
    amount = number(tq1.get(6), "TQ1-6")
    return amount * {"wk": 7, "w": 7, "mo": 30}.get(unit, 1)

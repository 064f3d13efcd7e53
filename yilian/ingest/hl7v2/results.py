"""OBR and OBX: lab results (ORU^R01) and the measurements an ADT carries, as Observations and
DiagnosticReports.

A result is keyed on its order (OBR-3 filler number, else OBR-2 placer number) and its OBX set id, so
a corrected result (OBX-11 C) updates the Observation it corrects; a first result is a conditional
create. Systolic and diastolic readings taken together become one blood-pressure panel, as FHIR's
vital-signs profile wants.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache

from yilian.ingest.codes import LOINC, UCUM
from yilian.ingest.errors import DATA_TYPE, IngestError
from yilian.ingest.hl7v2.context import V2Context, cwe, first_rep
from yilian.ingest.hl7v2.message import Segment
from yilian.ingest.hl7v2.types import c, number, ts

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
INTERPRETATION = f"{TERMINOLOGY}/v3-ObservationInterpretation"
STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "D": "entered-in-error",
    "W": "entered-in-error",
    "U": "final",
    "A": "amended",
}
REPORT_STATUS = {
    "F": "final",
    "C": "corrected",
    "P": "preliminary",
    "R": "preliminary",
    "S": "partial",
    "I": "registered",
    "O": "registered",
    "X": "cancelled",
    "A": "partial",
    "Y": "final",
    "Z": "final",
}
UCUM_UNITS = {
    "mmol/L",
    "umol/L",
    "g/L",
    "mg/dL",
    "g/dL",
    "%",
    "mm[Hg]",
    "kg",
    "cm",
    "m",
    "Cel",
    "/min",
    "U/L",
    "kg/m2",
    "10*9/L",
    "10*12/L",
    "mL",
    "L",
    "fL",
    "pg",
    "s",
    "ng/mL",
    "mIU/L",
    "pmol/L",
    "nmol/L",
    "mg/L",
    "ug/L",
    "[IU]/L",
    "mmol/mol",
    "{ratio}",
    "1",
    "mg",
    "ug",
    "g",
    "d",
    "h",
}
VITAL_SIGNS = {
    "85354-9",
    "8480-6",
    "8462-4",
    "8867-4",
    "8310-5",
    "8302-2",
    "29463-7",
    "39156-5",
    "9279-1",
    "2708-6",
    "59408-5",
    "8287-5",
}
BP = ("85354-9", "Blood pressure panel with all children optional", "血压")
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
_RANGE = re.compile(r"^\s*([<>]=?)?\s*(-?\d+\.?\d*)\s*(?:[-~]\s*(-?\d+\.?\d*))?\s*$")


def order_number(ctx: V2Context, obr: Segment | None, index: int) -> str:
    if obr is not None and (obr.get(3) or obr.get(2)):
        return obr.get(3) or obr.get(2)
    return f"{ctx.msg.control_id}-{index}"


CATEGORY_SYSTEM = f"{TERMINOLOGY}/observation-category"
CATEGORY_TEXT = {"laboratory": "检验", "vital-signs": "体征", "exam": "检查"}


def category(code: str, display: str) -> list[dict]:
    coding = {"system": CATEGORY_SYSTEM, "code": code, "display": display}
    return [{"coding": [coding], "text": CATEGORY_TEXT.get(code, "")}]


def observation(
    ctx: V2Context, obx: Segment, *, order: str, when: str | None, kind: str, by_code: bool = False
) -> tuple[dict, dict]:
    """One OBX; keyed on order and set id, or (`by_code`, for measurements an ADT repeats from message
    to message) on the visit, the item and its time."""
    code = cwe(ctx, obx, 3, kind)
    loinc = loinc_of(code)
    cat = (
        ("vital-signs", "Vital Signs")
        if loinc in VITAL_SIGNS
        else (("laboratory", "Laboratory") if kind == "lab" else ("exam", "Exam"))
    )
    status = obx.get(11).upper()
    obs: dict = {
        "resourceType": "Observation",
        "status": STATUS.get(status, "final" if not status else "unknown"),
        "category": category(*cat),
        "code": code,
    }
    if ctx.patient:
        obs["subject"] = ctx.patient
    if ctx.encounter:
        obs["encounter"] = ctx.encounter
    if effective := ctx.time(obx, 14) or when:
        obs["effectiveDateTime"] = effective
    performer = ctx.clinician_of(obx, 16) or ctx.org
    if performer:
        obs["performer"] = [performer]
    obs.update(value(obx))
    if flags := [f for rep in obx.reps(8) if (f := c(rep, 1).upper())]:
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": f}]} for f in flags]
    if ranges := reference_range(obx.get(7), obs.get("valueQuantity")):
        obs["referenceRange"] = ranges
    if by_code:
        item = obx.get(3) or str(len(ctx.out.entries))
        key = ctx.key("measurement", f"{order}-{item}-{obs.get('effectiveDateTime', '')}")
    else:
        key = ctx.key("result", f"{order}-{obx.get(1) or len(ctx.out.entries)}")
    return obs, key


def loinc_of(concept: dict) -> str | None:
    return next((cd["code"] for cd in concept.get("coding", []) if cd.get("system") == LOINC), None)


def value(obx: Segment) -> dict:
    """OBX-5 typed by OBX-2: NM, SN, ST/TX/FT, CE/CWE, DT/TS/DTM, ED."""
    vtype, reps, where = obx.get(2).upper(), obx.reps(5), "OBX-5"
    if not reps:
        return {}
    first = reps[0]
    if vtype in ("NM", ""):
        if vtype == "" and not _looks_numeric(c(first, 1)):
            return {"valueString": c(first, 1)}
        return {"valueQuantity": quantity(number(c(first, 1), where), first_rep(obx, 6))}
    if vtype == "SN":
        return structured_numeric(first, first_rep(obx, 6), where)
    if vtype in ("ST", "TX", "FT"):
        return {"valueString": "\n".join(c(r, 1) for r in reps)}
    if vtype in ("CE", "CWE", "CNE", "CF"):
        coding = {k: v for k, v in (("code", c(first, 1)), ("display", c(first, 2))) if v}
        return {"valueCodeableConcept": {"coding": [coding], "text": c(first, 2) or c(first, 1)}}
    if vtype in ("DT", "TS", "DTM"):
        return {"valueDateTime": ts(c(first, 1), where)}
    if vtype == "ED":
        data = c(first, 5)
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise IngestError("OBX-5 ED data is not base64", location=where, code=DATA_TYPE) from None
        return {"valueString": f"[{c(first, 2) or 'data'} {len(data)} base64 characters]"}
    return {"valueString": "\n".join(c(r, 1) for r in reps)}


def _looks_numeric(text: str) -> bool:
    return bool(re.match(r"^[+-]?\d+\.?\d*$", text.strip()))


def quantity(amount: float, unit_rep: list) -> dict:
    code, text, system = c(unit_rep, 1), c(unit_rep, 2), c(unit_rep, 3).upper()
    out: dict = {"value": amount}
    if code or text:
        out["unit"] = text or code  # the unit as people read it; the UCUM code beside it when there is one
        if code and (system == "UCUM" or code in UCUM_UNITS):
            out.update(system=UCUM, code=code)
    return out


def structured_numeric(rep: list, unit_rep: list, where: str) -> dict:
    """SN: comparator ^ number ^ separator ^ number (<5, 10-20, 1:128)."""
    comparator, first, sep, second = c(rep, 1), c(rep, 2), c(rep, 3), c(rep, 4)
    if sep in ("-", "~") and second:
        unit = quantity(0, unit_rep)
        low, high = dict(unit), dict(unit)
        low["value"], high["value"] = number(first, where), number(second, where)
        return {"valueRange": {"low": low, "high": high}}
    if sep in (":", "/") and second:
        return {
            "valueRatio": {
                "numerator": {"value": number(first, where)},
                "denominator": {"value": number(second, where)},
            }
        }
    out = quantity(number(first, where), unit_rep)
    if comparator in ("<", "<=", ">", ">="):
        out["comparator"] = comparator
    return {"valueQuantity": out}


def reference_range(text: str, q: dict | None) -> list[dict]:
    if not text:
        return []
    low, high = _bounds(text)
    unit = {k: v for k, v in (q or {}).items() if k in ("unit", "system", "code")}
    out: dict = {}
    if low is not None:
        out["low"] = {"value": low, **unit}
    if high is not None:
        out["high"] = {"value": high, **unit}
    out["text"] = text
    return [out]


@lru_cache(maxsize=1024)  # a test's reference range is the same in every report
def _bounds(text: str) -> tuple[float | None, float | None]:
    """The low and high of a range as written: 3.9-6.1, <5, >=10 (None where there is none)."""
    m = _RANGE.match(text)
    if not m:
        return None, None
    op, a, b = m.groups()
    if b is not None and not op:
        return float(a), float(b)
    if op in ("<", "<="):
        return None, float(a)
    if op in (">", ">="):
        return float(a), None
    return None, None


def combine_blood_pressure(observations: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
    """Systolic and diastolic readings with the same time become one panel with two components."""
    parts = {
        loinc_of(o["code"]): (o, k) for o, k in observations if loinc_of(o["code"]) in (SYSTOLIC, DIASTOLIC)
    }
    if set(parts) != {SYSTOLIC, DIASTOLIC}:
        return observations
    (sbp, key), (dbp, _) = parts[SYSTOLIC], parts[DIASTOLIC]
    if sbp.get("effectiveDateTime") != dbp.get("effectiveDateTime"):
        return observations
    panel = {
        k: v for k, v in sbp.items() if k not in ("code", "valueQuantity", "interpretation", "referenceRange")
    }
    panel["code"] = {"coding": [{"system": LOINC, "code": BP[0], "display": BP[1]}], "text": BP[2]}
    panel["component"] = [_component(sbp), _component(dbp)]
    key = {**key, "value": key["value"] + "-bp"}
    rest = [(o, k) for o, k in observations if loinc_of(o["code"]) not in (SYSTOLIC, DIASTOLIC)]
    return [*rest, (panel, key)]


def _component(obs: dict) -> dict:
    part = {"code": obs["code"]}
    for k in ("valueQuantity", "interpretation"):
        if k in obs:
            part[k] = obs[k]
    return part


def report(ctx: V2Context, obr: Segment, order: str, results: list[dict], notes: list[str]) -> dict:
    """The DiagnosticReport of one OBR (its results listed, its NTEs as the conclusion)."""
    section = obr.get(24).upper() or "LAB"
    status = obr.get(25).upper()
    dr: dict = {
        "resourceType": "DiagnosticReport",
        "status": REPORT_STATUS.get(status, "final" if not status else "unknown"),
        "category": [
            {
                "coding": [{"system": f"{TERMINOLOGY}/v2-0074", "code": section}],
                "text": "检验" if section in ("LAB", "CH", "HM", "SR", "MB") else section,
            }
        ],
        "code": cwe(ctx, obr, 4, "lab"),
    }
    if ctx.patient:
        dr["subject"] = ctx.patient
    if ctx.encounter:
        dr["encounter"] = ctx.encounter
    if when := ctx.time(obr, 7):
        dr["effectiveDateTime"] = when
    issued = ctx.time(obr, 22)
    if issued and "T" in issued:
        dr["issued"] = issued
    if ctx.member:
        dr["performer"] = [ctx.org]
    if interpreter := ctx.ndl(obr, 32):
        dr["resultsInterpreter"] = [interpreter]
    if results:
        dr["result"] = results
    if notes:
        dr["conclusion"] = "\n".join(notes)
    return dr


def add_oru(ctx: V2Context) -> None:
    """Every OBR of an ORU (or OUL) with the OBX and NTE segments that follow it."""
    obr, obxs, notes = None, [], []
    groups: list[tuple[Segment | None, list[Segment], list[str]]] = []
    for seg in ctx.msg.segments:
        if seg.id == "OBR":
            if obr is not None or obxs:
                groups.append((obr, obxs, notes))
            obr, obxs, notes = seg, [], []
        elif seg.id == "OBX":
            obxs.append(seg)
        elif seg.id == "NTE" and obr is not None and not obxs:
            notes.append(seg.get(3))
    if obr is not None or obxs:
        groups.append((obr, obxs, notes))
    if not groups:
        raise IngestError(f"{ctx.msg.name} has no OBR or OBX segment: no result to record", location="OBR")
    for index, (obr, obxs, notes) in enumerate(groups, start=1):
        order = order_number(ctx, obr, index)
        when = ctx.time(obr, 7) if obr is not None else ctx.message_time()
        ctx.event_at = ctx.event_at or when
        observations = [observation(ctx, obx, order=order, when=when, kind="lab") for obx in obxs]
        refs = [_write(ctx, obs, key) for obs, key in observations]
        if obr is not None:
            dr = report(ctx, obr, order, refs, [n for n in notes if n])
            key = ctx.key("report", order)
            if dr["status"] in ("corrected", "amended"):
                ctx.out.upsert(dr, key)
            else:
                ctx.out.create(dr, key)


def _write(ctx: V2Context, obs: dict, key: dict) -> dict:
    if obs["status"] in ("corrected", "amended", "entered-in-error"):
        return ctx.out.upsert(obs, key)
    return ctx.out.create(obs, key)


def add_measurements(ctx: V2Context, kind: str = "vital") -> None:
    """The OBX segments of a non-result message (ADT vital signs), blood pressure combined."""
    obxs = ctx.msg.all("OBX")
    if not obxs:
        return
    when = ctx.event_at or ctx.message_time()
    order = ctx.msg.first("PV1").get(19) if ctx.msg.first("PV1") else ""
    observations = [
        observation(ctx, obx, order=order or ctx.msg.control_id, when=when, kind=kind, by_code=True)
        for obx in obxs
    ]
    for obs, key in combine_blood_pressure(observations):
        _write(ctx, obs, key)

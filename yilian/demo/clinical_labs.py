"""Measurements and results: vital signs, lab panels with their DiagnosticReport, imaging studies.

Values come from the person's health (diagnoses, control over time, medicines, pregnancy), so a
hypertensive's readings rise and fall with their control pattern and a CKD patient's creatinine is
high wherever it is measured; results outside the reference range carry an H/L interpretation.
"""

from __future__ import annotations

from datetime import date

from yilian.demo.catalog import BP_PANEL, DIASTOLIC, IMAGING, PANELS, SYSTOLIC, TESTS
from yilian.demo.clinical import Ctx, controlled
from yilian.demo.feed import DCM, LOINC, SCT, TERMINOLOGY, TODAY, UCUM, V2_0074, coding, concept, instant
from yilian.demo.people import Person
from yilian.demo.staff import Staff, pick

INTERPRETATION = f"{TERMINOLOGY}/v3-ObservationInterpretation"
_FLAGS = {"H": "High", "L": "Low", "HH": "Critical high", "LL": "Critical low"}
CATEGORY = {
    "laboratory": ("laboratory", "Laboratory", "检验"),
    "vital-signs": ("vital-signs", "Vital Signs", "体征"),
}

# --- values -----------------------------------------------------------------------------------


def height_at(person: Person, when: date) -> float:
    """Adults keep their height; children follow a rough growth curve scaled to their own."""

    def curve(age: float) -> float:
        return 50 + 25 * age if age < 1 else 75 + 12 * (age - 1) if age < 2 else 87 + 6.3 * (age - 2)

    age_now = (TODAY - person.birth).days / 365.25
    if age_now >= 18:
        return person.height_cm
    age_then = max((when - person.birth).days / 365.25, 0.0)
    return round(person.height_cm * curve(age_then) / curve(age_now), 1)


def weight_at(ctx: Ctx, when: date) -> float:
    p, lmp = ctx.person, ctx.health.lmp
    weight = p.bmi * (height_at(p, when) / 100) ** 2 + ctx.rng.gauss(0, 0.8 if p.age(when) >= 14 else 0.2)
    if lmp and when > lmp:
        weight += max(0.0, ((when - lmp).days / 7 - 12) * 0.45)  # gestational gain after the first trimester
    return round(max(weight, 2.5), 1)


def bp_values(ctx: Ctx, when: date, urgent: bool = False) -> tuple[int, int]:
    rng, h = ctx.rng, ctx.health
    if urgent:  # above the urgent-referral line of the public-health standard
        return rng.randint(182, 205), rng.randint(108, 122)
    if h.has("htn") and when >= h.onset["htn"]:
        if controlled(rng, h, "htn", when):
            return round(rng.gauss(128, 6)), round(rng.gauss(79, 5))
        return round(rng.gauss(153, 9)), round(rng.gauss(94, 5))
    base = 100 + 0.35 * ctx.person.age(when)
    return round(rng.gauss(base, 7)), round(rng.gauss(base * 0.62, 5))


def lab_value(ctx: Ctx, key: str, when: date) -> float:
    rng, h, p = ctx.rng, ctx.health, ctx.person
    diabetic = h.has("t2dm") and when >= h.onset["t2dm"]
    good = diabetic and controlled(rng, h, "t2dm", when)
    statin = "atorvastatin" in h.all_drugs()
    ckd = h.has("ckd") and when >= h.onset["ckd"]
    male = p.sex == "male"
    draws = {
        "glucose": lambda: _glucose(ctx, diabetic, good),
        "hba1c": lambda: (
            rng.gauss(6.6, 0.35) if good else rng.gauss(8.6, 1.0) if diabetic else rng.gauss(5.4, 0.3)
        ),
        "tc": lambda: rng.gauss(5.7, 0.7) - (1.3 if statin else 0) if h.has("hld") else rng.gauss(4.6, 0.6),
        "ldl": lambda: rng.gauss(3.7, 0.5) - (1.1 if statin else 0) if h.has("hld") else rng.gauss(2.7, 0.45),
        "creatinine": lambda: rng.gauss(165, 25) if ckd else rng.gauss(84 if male else 63, 11),
        "potassium": lambda: rng.gauss(4.7 if ckd else 4.2, 0.35),
        "sodium": lambda: rng.gauss(141, 2.2),
        "alt": lambda: rng.gauss(68, 15) if rng.random() < 0.06 else max(6.0, rng.gauss(24, 8)),
        "hb": lambda: rng.gauss(145 if male else 127, 10) - (14 if ckd else 0) - (8 if h.lmp else 0),
        "hr": lambda: rng.gauss(76, 8),
        "temp": lambda: rng.gauss(36.6, 0.2),
    }
    value = draws[key]()
    return round(max(value, 0.1), TESTS[key].decimals)


def _glucose(ctx: Ctx, diabetic: bool, good: bool) -> float:
    """Fasting glucose, with the occasional reading past the urgent-referral lines (>=16.7, <=3.9)."""
    rng = ctx.rng
    if not diabetic:
        return rng.gauss(5.1, 0.45)
    if "glargine" in ctx.health.drugs.get("t2dm", []) and rng.random() < 0.08:
        return rng.gauss(3.4, 0.3)  # hypoglycaemia on insulin
    if good:
        return rng.gauss(6.6, 0.6)
    return rng.gauss(18.0, 1.2) if rng.random() < 0.04 else rng.gauss(9.8, 2.4)


def _flag(key: str, sex: str, value: float) -> str | None:
    low, high = getattr(TESTS[key], sex)
    if key == "glucose" and value >= 16.7:
        return "HH"  # the urgent-referral threshold of the public-health standard
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return None


# --- resources ---------------------------------------------------------------------------------


def _quantity(value: float, unit: str) -> dict:
    return {
        "value": int(value) if float(value).is_integer() and unit != "Cel" else value,
        "unit": unit,
        "system": UCUM,
        "code": unit,
    }


def _range(key: str, sex: str) -> list[dict]:
    low, high = getattr(TESTS[key], sex)
    unit = TESTS[key].unit
    if low is None and high is None:
        return []
    out: dict = {}
    if low is not None:
        out["low"] = _quantity(low, unit)
    if high is not None:
        out["high"] = _quantity(high, unit)
    out["text"] = (
        f"{low}-{high} {unit}"
        if low is not None and high is not None
        else (f"<{high} {unit}" if high is not None else f">{low} {unit}")
    )
    return [out]


def _base(ctx: Ctx, category: str, code: dict, enc: dict, when: str, performer: dict) -> dict:
    cat_code, cat_display, cat_text = CATEGORY[category]
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            concept(coding(f"{TERMINOLOGY}/observation-category", cat_code, cat_display), text=cat_text)
        ],
        "code": code,
        "subject": ctx.patient,
        "encounter": enc,
        "effectiveDateTime": when,
        "performer": [performer],
    }


def observe(ctx: Ctx, key: str, value: float, enc: dict, when: str, performer: dict) -> dict:
    test = TESTS[key]
    obs = _base(ctx, test.category, test.code(), enc, when, performer)
    obs["valueQuantity"] = _quantity(value, test.unit)
    if key == "bmi" and ctx.person.age(date.fromisoformat(when[:10])) < 18:
        return ctx.builder.add(obs)  # children's BMI is read on growth charts, not the adult range
    if flag := _flag(key, ctx.person.sex, value):
        obs["interpretation"] = [concept(coding(INTERPRETATION, flag, _FLAGS[flag]))]
    if ranges := _range(key, ctx.person.sex):
        obs["referenceRange"] = ranges
    return ctx.builder.add(obs)


def blood_pressure(
    ctx: Ctx, enc: dict, day: date, minutes: int, performer: dict, values: tuple[int, int] | None = None
) -> dict:
    sbp, dbp = values or bp_values(ctx, day)
    obs = _base(
        ctx,
        "vital-signs",
        concept(coding(LOINC, BP_PANEL[0], BP_PANEL[1]), text=BP_PANEL[2]),
        enc,
        instant(day, minutes),
        performer,
    )
    obs["component"] = [_bp_part(SYSTOLIC, sbp, 140, 180), _bp_part(DIASTOLIC, dbp, 90, 110)]
    return ctx.builder.add(obs)


def _bp_part(code: tuple[str, str, str], value: int, high: int, critical: int) -> dict:
    part: dict = {
        "code": concept(coding(LOINC, code[0], code[1]), text=code[2]),
        "valueQuantity": _quantity(value, "mm[Hg]"),
    }
    if value >= high:
        flag = "HH" if value >= critical else "H"
        part["interpretation"] = [concept(coding(INTERPRETATION, flag, _FLAGS[flag]))]
    return part


def vitals(
    ctx: Ctx,
    enc: dict,
    day: date,
    minutes: int,
    doctor: Staff,
    keys: tuple[str, ...],
    given: dict | None = None,
) -> None:
    """Measured by the clinician at the visit: any of bp, hr, temp, height, weight, bmi.

    `given` fixes a value the visit logic already decided (a reading that triggers a recall, a fever).
    """
    performer, when, given = ctx.staff(doctor), instant(day, minutes), dict(given or {})
    height = height_at(ctx.person, day)
    given.setdefault("height", height)
    given.setdefault("weight", weight_at(ctx, day))
    given.setdefault("bmi", round(given["weight"] / (height / 100) ** 2, 1))
    for key in keys:
        if key == "bp":
            blood_pressure(ctx, enc, day, minutes, performer, given.get("bp"))
        else:
            observe(ctx, key, given.get(key) or lab_value(ctx, key, day), enc, when, performer)


def lab_report(ctx: Ctx, panel: str, enc: dict, day: date, minutes: int, values: dict | None = None) -> dict:
    """A panel's Observations and the DiagnosticReport listing them; results issued two hours later."""
    loinc, display, text, keys = PANELS[panel]
    when = instant(day, minutes)
    lab = pick(list(ctx.site.staff), "laboratory", "gp", "internal")
    results = [
        observe(ctx, k, (values or {}).get(k) or lab_value(ctx, k, day), enc, when, ctx.org) for k in keys
    ]
    return ctx.builder.add(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [concept(coding(V2_0074, "LAB", "Laboratory"), text="检验")],
            "code": concept(coding(LOINC, loinc, display), text=text),
            "subject": ctx.patient,
            "encounter": enc,
            "effectiveDateTime": when,
            "issued": instant(day, minutes + 120),
            "performer": [ctx.org],
            "resultsInterpreter": [ctx.staff(lab)],
            "result": results,
        }
    )


def imaging_report(
    ctx: Ctx, key: str, finding: int, enc: dict, day: date, minutes: int, referrer: Staff
) -> dict:
    """ImagingStudy (DICOM UIDs, one series) and the radiologist's report with a Chinese conclusion."""
    im = IMAGING[key]
    rng, when = ctx.rng, instant(day, minutes)
    radiologist = ctx.staff(pick(list(ctx.site.staff), "radiology"))
    modality = coding(DCM, im.modality, im.modality_display)
    procedure = concept(coding(SCT, *im.code), text=im.text)
    count = {"DX": rng.randint(1, 2), "US": rng.randint(4, 12), "CT": rng.randint(60, 240)}[im.modality]
    series: dict = {
        "uid": ctx.builder.uid(f"{key}/{day}/series"),
        "number": 1,
        "modality": modality,
        "description": im.text,
        "numberOfInstances": count,
        "bodySite": coding(SCT, *im.body),
        "started": when,
    }
    if count <= 12:  # CT series are too long to list instance by instance
        series["instance"] = [
            {
                "uid": ctx.builder.uid(f"{key}/{day}/{i}"),
                "sopClass": coding("urn:ietf:rfc:3986", f"urn:oid:{im.sop_class}"),
                "number": i,
            }
            for i in range(1, count + 1)
        ]
    study = ctx.builder.add(
        {
            "resourceType": "ImagingStudy",
            "identifier": [
                {"system": "urn:dicom:uid", "value": f"urn:oid:{ctx.builder.uid(f'{key}/{day}/study')}"}
            ],
            "status": "available",
            "modality": [modality],
            "subject": ctx.patient,
            "encounter": enc,
            "started": when,
            "referrer": ctx.staff(referrer),
            "interpreter": [radiologist],
            "numberOfSeries": 1,
            "numberOfInstances": count,
            "procedureCode": [procedure],
            "series": [series],
        }
    )
    conclusion = im.conclusions[min(finding, len(im.conclusions) - 1)]
    if key == "ob_us" and ctx.health.lmp:
        weeks = (day - ctx.health.lmp).days // 7
        conclusion = f"{conclusion}超声孕周约{weeks}周，胎心{rng.randint(135, 155)}次/分。"
    return ctx.builder.add(
        {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [concept(coding(V2_0074, "RAD", "Radiology"), text="影像")],
            "code": procedure,
            "subject": ctx.patient,
            "encounter": enc,
            "effectiveDateTime": when,
            "issued": instant(day, minutes + 90),
            "performer": [ctx.org],
            "resultsInterpreter": [radiologist],
            "imagingStudy": [study],
            "conclusion": conclusion,
        }
    )

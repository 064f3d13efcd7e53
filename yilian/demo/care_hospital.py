"""What a hospital records for a patient: specialist clinics with labs, imaging and prescriptions,
antenatal scans, and the acute episodes (chest pain and PCI, stroke, COPD exacerbation, hypertensive
urgency, a child's fever) as emergency visits and admissions.
"""

from __future__ import annotations

from datetime import date, timedelta

from yilian.demo.clinical import Ctx
from yilian.demo.clinical_labs import bp_values, imaging_report, lab_report, vitals
from yilian.demo.feed import HISTORY_START, TODAY, instant, random_day
from yilian.demo.records import capped, condition, encounter, noon, prescribe, procedure, visit
from yilian.demo.staff import Staff, pick

Event = tuple[str, date]
SPECIALTY = {
    "chd": "cardiology",
    "htn": "cardiology",
    "hld": "cardiology",
    "stroke": "neurology",
    "ckd": "nephrology",
    "t2dm": "endocrinology",
    "copd": "respiratory",
}
PANELS_FOR = {
    "htn": ("chem",),
    "t2dm": ("hba1c", "chem"),
    "hld": ("lipid",),
    "chd": ("lipid", "chem"),
    "stroke": ("lipid",),
    "ckd": ("chem", "cbc"),
    "copd": ("cbc",),
}
IMAGING_FOR = {
    "chd": ("echo", 1),
    "stroke": ("ct_head", 1),
    "copd": ("ct_chest", 1),
    "ckd": ("abd_us", 2),
    "t2dm": ("abd_us", 1),
    "htn": ("echo", 2),
}


def _focus(ctx: Ctx) -> tuple[str, ...]:
    """The chronic diagnoses this hospital follows: the serious ones at the tertiary hospital (anyone
    else went there once, for a second opinion), the common ones at a district hospital."""
    h = ctx.health
    serious = tuple(k for k in ("chd", "stroke", "ckd") if h.has(k))
    common = tuple(k for k in ("htn", "t2dm", "copd", "hld") if h.has(k))
    return serious if ctx.site.kind == "tertiary-hospital" else common


def hospital_care(ctx: Ctx, events: list[Event]) -> None:
    staff, rng = list(ctx.site.staff), ctx.rng
    for kind, day in events:
        EPISODES[kind](ctx, day)
    focus = _focus(ctx)
    if focus:
        _clinic(ctx, focus, pick(staff, SPECIALTY[focus[0]], "internal", "tcm"))
    if ctx.health.lmp and ctx.site.kind == "secondary-hospital":
        _obstetrics(ctx, pick(staff, "obstetrics"))
    if not ctx.builder.known:  # no clinician involved yet: registered once, for something minor
        doctor = pick(staff, "internal", "tcm", "cardiology")
        day = random_day(rng, HISTORY_START, TODAY)
        enc, minutes = visit(ctx, "outpatient", doctor, day)
        vitals(ctx, enc, day, minutes, doctor, ("bp", "hr"))
        lab_report(ctx, "chem", enc, day, minutes)


def _clinic(ctx: Ctx, focus: tuple[str, ...], doctor: Staff) -> None:
    """Specialist outpatient visits every few months since the diagnosis, each with a prescription."""
    rng, h = ctx.rng, ctx.health
    day = max(HISTORY_START, min(h.onset[k] for k in focus)) + timedelta(days=rng.randint(7, 120))
    days = []
    while day <= TODAY:
        days.append(day)
        day += timedelta(days=rng.randint(150, 365))
    drugs = dict.fromkeys(d for k in focus for d in h.drugs.get(k, []) if d != "clopidogrel" or k == "chd")
    for i, day in enumerate(days):
        enc, minutes = visit(ctx, "outpatient", doctor, day, focus)
        if i == 0:
            _first_clinic_visit(ctx, focus, doctor, enc, day, minutes)
        vitals(ctx, enc, day, minutes, doctor, ("bp", "hr"))
        if rng.random() < 0.4:
            for panel in dict.fromkeys(p for k in focus for p in PANELS_FOR[k]):
                lab_report(ctx, panel, enc, day, minutes)
        for drug in drugs:
            last = i == len(days) - 1
            days_supply = rng.choice((30, 60, 90))
            prescribe(ctx, drug, doctor, enc, instant(day, minutes + 10), active=last, days=days_supply)


def _first_clinic_visit(
    ctx: Ctx, focus: tuple[str, ...], doctor: Staff, enc: dict, day: date, minutes: int
) -> None:
    """The diagnoses are written down, and the baseline imaging and ECG or spirometry done."""
    rng = ctx.rng
    for key in focus:
        if key not in ctx.problems:
            condition(ctx, key, doctor, instant(day, minutes), onset=ctx.health.onset[key], enc=enc)
        if key in IMAGING_FOR and rng.random() < 0.7:
            img, finding = IMAGING_FOR[key]
            finding = finding if rng.random() < 0.7 else 0
            imaging_report(ctx, img, finding, enc, day, minutes + 30, doctor)
    if {"chd", "htn"} & set(focus):
        procedure(ctx, "ecg", doctor, enc, instant(day, minutes + 10), focus[0])
    if "copd" in focus:
        procedure(ctx, "spirometry", doctor, enc, instant(day, minutes + 20), "copd")


def _obstetrics(ctx: Ctx, doctor: Staff) -> None:
    """Hospital antenatal care: the screening ultrasounds and blood tests."""
    lmp = ctx.health.lmp
    assert lmp is not None
    for i, week in enumerate((12, 22, 32)):
        day = lmp + timedelta(days=7 * week + ctx.rng.randint(0, 6))
        if day > TODAY:
            break
        enc, minutes = visit(ctx, "prenatal", doctor, day, ("pregnancy",))
        if i == 0:
            condition(
                ctx, "pregnancy", doctor, instant(day, minutes), onset=lmp + timedelta(days=42), enc=enc
            )
            lab_report(ctx, "cbc", enc, day, minutes)
        vitals(ctx, enc, day, minutes, doctor, ("bp", "weight"))
        imaging_report(ctx, "ob_us", 0, enc, day, minutes + 40, doctor)


def _admission(
    ctx: Ctx, doctor: Staff, day: date, nights: int, reasons: tuple[str, ...]
) -> tuple[dict, dict, int]:
    """An emergency visit and the admission that follows it."""
    minutes = ctx.rng.randint(0, 23 * 60)
    er_doc = pick(list(ctx.site.staff), "emergency", "internal")
    er = encounter(
        ctx,
        "emergency",
        "EMER",
        er_doc,
        instant(day, minutes),
        instant(day, minutes + 180),
        reasons,
    )
    leave = capped(day + timedelta(days=nights))
    ward = encounter(ctx, "admission", "IMP", doctor, instant(day, minutes + 180), noon(leave), reasons)
    return er, ward, minutes


def _pci(ctx: Ctx, day: date) -> None:
    cardio = pick(list(ctx.site.staff), "cardiology", "internal")
    er, ward, minutes = _admission(ctx, cardio, day, ctx.rng.randint(4, 7), ("chd",))
    vitals(ctx, er, day, minutes, cardio, ("bp", "hr"))
    procedure(ctx, "ecg", cardio, er, instant(day, minutes + 10))
    lab_report(ctx, "chem", er, day, minutes + 15)
    condition(ctx, "chd", cardio, instant(day, minutes + 60), onset=day, enc=ward)
    after = capped(day + timedelta(days=1))
    procedure(ctx, "angiography", cardio, ward, instant(after, 10 * 60), "chd")
    procedure(ctx, "pci", cardio, ward, instant(after, 10 * 60 + 45), "chd")
    lab_report(ctx, "lipid", ward, after, 7 * 60)
    imaging_report(ctx, "echo", 1, ward, capped(day + timedelta(days=2)), 9 * 60, cardio)
    _discharge(ctx, cardio, ward, day + timedelta(days=4), ("chd", "htn"))


def _stroke(ctx: Ctx, day: date) -> None:
    neuro = pick(list(ctx.site.staff), "neurology", "internal")
    er, ward, minutes = _admission(ctx, neuro, day, ctx.rng.randint(9, 14), ("stroke_acute",))
    vitals(ctx, er, day, minutes, neuro, ("bp", "hr"))
    imaging_report(ctx, "ct_head", 1, er, day, minutes + 20, neuro)
    lab_report(ctx, "chem", er, day, minutes + 15)
    condition(
        ctx,
        "stroke_acute",
        neuro,
        instant(day, minutes + 60),
        onset=day,
        enc=ward,
        resolved=capped(day + timedelta(days=14)),
    )
    lab_report(ctx, "lipid", ward, capped(day + timedelta(days=1)), 7 * 60)
    _discharge(ctx, neuro, ward, day + timedelta(days=9), ("stroke",))


def _copd(ctx: Ctx, day: date) -> None:
    resp = pick(list(ctx.site.staff), "respiratory", "internal", "tcm")
    er, ward, minutes = _admission(ctx, resp, day, ctx.rng.randint(6, 10), ("copd_ae",))
    vitals(ctx, er, day, minutes, resp, ("temp", "bp", "hr"), {"temp": round(ctx.rng.uniform(37.3, 38.6), 1)})
    condition(
        ctx,
        "copd_ae",
        resp,
        instant(day, minutes + 60),
        onset=day - timedelta(days=3),
        enc=ward,
        resolved=capped(day + timedelta(days=10)),
    )
    imaging_report(ctx, "cxr", 1, er, day, minutes + 30, resp)
    for panel in ("cbc", "chem"):
        lab_report(ctx, panel, er, day, minutes + 15)
    _discharge(ctx, resp, ward, day + timedelta(days=6), ("copd",))


def _urgency(ctx: Ctx, day: date) -> None:
    """Blood pressure over 180/110 at the emergency department: ECG, labs, and a change of medicine."""
    doctor = pick(list(ctx.site.staff), "emergency", "internal")
    minutes = ctx.rng.randint(7 * 60, 22 * 60)
    enc = encounter(
        ctx, "emergency", "EMER", doctor, instant(day, minutes), instant(day, minutes + 150), ("htn",)
    )
    vitals(ctx, enc, day, minutes, doctor, ("bp", "hr"), {"bp": bp_values(ctx, day, urgent=True)})
    procedure(ctx, "ecg", doctor, enc, instant(day, minutes + 15))
    lab_report(ctx, "chem", enc, day, minutes + 20)
    for drug in ctx.health.drugs.get("htn", []):
        prescribe(ctx, drug, doctor, enc, instant(day, minutes + 60), active=False, days=7)


def _uri(ctx: Ctx, day: date) -> None:
    child = ctx.person.age(day) < 14
    doctor = pick(list(ctx.site.staff), "pediatrics" if child else "internal", "internal")
    cold(ctx, doctor, day, "emergency" if child else "sick", "EMER" if child else "AMB")


def _discharge(ctx: Ctx, doctor: Staff, ward: dict, day: date, diagnoses: tuple[str, ...]) -> None:
    for drug in dict.fromkeys(d for k in diagnoses for d in ctx.health.drugs.get(k, [])):
        prescribe(ctx, drug, doctor, ward, noon(capped(day)), active=False, days=30, category="discharge")


EPISODES = {"pci": _pci, "stroke": _stroke, "copd": _copd, "urgency": _urgency, "uri": _uri}


def cold(ctx: Ctx, doctor: Staff, day: date, kind: str, cls: str) -> None:
    """A febrile upper-respiratory infection: temperature, sometimes a blood count, an antibiotic."""
    rng = ctx.rng
    enc, minutes = visit(ctx, kind, doctor, day, ("uri",), cls)
    condition(
        ctx,
        "uri",
        doctor,
        instant(day, minutes),
        onset=day - timedelta(days=rng.randint(1, 3)),
        enc=enc,
        resolved=day + timedelta(days=7),
    )
    vitals(ctx, enc, day, minutes, doctor, ("temp", "hr"), {"temp": round(rng.uniform(37.8, 39.4), 1)})
    if rng.random() < 0.6:
        lab_report(ctx, "cbc", enc, day, minutes)
    drug = "azithromycin" if "penicillin" in ctx.health.allergies else "amoxicillin"
    prescribe(ctx, drug, doctor, enc, instant(day, minutes + 10), active=False, days=5)

"""What each kind of member records for one patient between 2022 and today.

Acute episodes are routed first (heart and brain to the tertiary hospital, the rest to a district
hospital, colds to the nearest door); then a community centre runs the public-health programmes:
problem list, quarterly hypertension and diabetes follow-ups with a two-week recall after an
uncontrolled reading, the yearly check-up from 65, antenatal and child checks, autumn influenza
vaccination, care plans and the medicine list. Hospitals are in care_hospital.
"""

from __future__ import annotations

from datetime import date, timedelta

from yilian.demo.care_hospital import cold, hospital_care
from yilian.demo.catalog import CHRONIC
from yilian.demo.clinical import Ctx, Health
from yilian.demo.clinical_labs import bp_values, lab_report, lab_value, observe, vitals
from yilian.demo.feed import HISTORY_START, TODAY, instant, random_day
from yilian.demo.records import (
    capped,
    care_plan,
    condition,
    immunization,
    medication_statement,
    noon,
    procedure,
    visit,
)
from yilian.demo.staff import Staff, pick

COMMUNITY = "community-health-centre"
Event = tuple[str, date]


def route_events(health: Health, kinds: list[str]) -> list[list[Event]]:
    """Give each acute episode to the registration that would see it (kinds: member types, in order)."""
    prefer = {
        "pci": ("tertiary-hospital", "secondary-hospital"),
        "stroke": ("tertiary-hospital", "secondary-hospital"),
        "copd": ("secondary-hospital", "tertiary-hospital"),
        "urgency": ("secondary-hospital", "tertiary-hospital"),
        "uri": ("secondary-hospital", COMMUNITY),
    }
    routed: list[list[Event]] = [[] for _ in kinds]
    for event in health.events:
        for kind in prefer[event[0]]:
            if kind in kinds:
                routed[kinds.index(kind)].append(event)
                break
    return routed


def record_care(ctx: Ctx, events: list[Event]) -> None:
    if ctx.site.kind == COMMUNITY:
        community_care(ctx, events)
    else:
        hospital_care(ctx, events)


# --- community health centre -------------------------------------------------------------------


def community_care(ctx: Ctx, events: list[Event]) -> None:
    rng, p, h = ctx.rng, ctx.person, ctx.health
    gp = pick(list(ctx.site.staff), "gp")
    since = (
        p.birth + timedelta(days=30)
        if p.birth.year >= 2009
        else random_day(rng, date(2009, 6, 1), date(2021, 12, 31))
    )
    for key in CHRONIC:
        if h.has(key):
            condition(
                ctx,
                key,
                gp,
                noon(capped(max(h.onset[key], since) + timedelta(days=rng.randint(0, 45)))),
                onset=h.onset[key],
            )
    for drug in h.all_drugs():
        if drug != "folic_acid":
            start = min(h.onset[k] for k, ds in h.drugs.items() if drug in ds and k in h.onset)
            medication_statement(ctx, drug, gp, start, noon(TODAY - timedelta(days=rng.randint(0, 90))))
    for prog in ("htn", "t2dm"):
        if h.has(prog):
            care_plan(ctx, prog, gp, max(h.onset[prog], since), noon(max(h.onset[prog], HISTORY_START)))
    _followups(ctx, gp)
    if p.age() >= 65:
        turned_65 = date(p.birth.year + 65, p.birth.month, min(p.birth.day, 28 if p.birth.month == 2 else 31))
        care_plan(ctx, "elderly", gp, max(since, turned_65), noon(HISTORY_START))
        _checkups(ctx, gp)
    if h.lmp:
        _antenatal(ctx, gp)
    if p.age() < 7:
        _child_checks(ctx, gp)
    _flu(ctx, pick(list(ctx.site.staff), "nursing"))
    for kind, day in events:
        if kind == "uri":
            cold(ctx, gp, day, "sick", "AMB")


def _followups(ctx: Ctx, gp: Staff) -> None:
    """Quarterly visits; a reading over 140/90 brings the patient back two weeks later."""
    rng, h = ctx.rng, ctx.health
    progs = tuple(k for k in ("htn", "t2dm") if h.has(k))
    if not progs:
        return
    day = max(HISTORY_START, min(h.onset[k] for k in progs))
    year_done = 0
    while day <= TODAY:
        if rng.random() < 0.6:  # not everyone comes every quarter
            when = random_day(rng, day, capped(day + timedelta(days=80)))
            first_of_year = when.year != year_done
            year_done = when.year
            _followup(ctx, gp, when, progs, first_of_year)
        day += timedelta(days=91)


def _followup(ctx: Ctx, gp: Staff, day: date, progs: tuple[str, ...], yearly: bool) -> None:
    bp = bp_values(ctx, day)
    enc, minutes = visit(ctx, "followup", gp, day, progs)
    keys = ("bp",) + (("hr",) if ctx.rng.random() < 0.3 else ()) + (("weight", "bmi") if yearly else ())
    vitals(ctx, enc, day, minutes, gp, keys, {"bp": bp})
    if "t2dm" in progs:  # fasting glucose at every visit, HbA1c about once a year
        observe(ctx, "glucose", lab_value(ctx, "glucose", day), enc, instant(day, minutes), ctx.org)
        if yearly and ctx.rng.random() < 0.5:
            lab_report(ctx, "hba1c", enc, day, minutes)
    recall = capped(day + timedelta(days=14))
    if (bp[0] >= 140 or bp[1] >= 90) and "htn" in progs and recall > day and ctx.rng.random() < 0.5:
        enc, minutes = visit(ctx, "followup", gp, recall, ("htn",))
        vitals(ctx, enc, recall, minutes, gp, ("bp", "hr"))


def _checkups(ctx: Ctx, gp: Staff) -> None:
    """The yearly check-up of everyone 65 and over: vitals, basic labs, often an ECG."""
    rng = ctx.rng
    for year in range(HISTORY_START.year, TODAY.year + 1):
        if rng.random() < 0.5:
            day = capped(random_day(rng, date(year, 3, 1), date(year, 10, 31)))
            enc, minutes = visit(ctx, "checkup", gp, day)
            vitals(ctx, enc, day, minutes, gp, ("bp", "height", "weight", "bmi"))
            for panel in ("chem", "lipid") + (("cbc",) if rng.random() < 0.4 else ()):
                lab_report(ctx, panel, enc, day, minutes)
            if rng.random() < 0.5:
                procedure(ctx, "ecg", gp, enc, instant(day, minutes + 20))


ANTENATAL_WEEKS = (12, 18, 23, 30, 34, 38)


def _antenatal(ctx: Ctx, gp: Staff) -> None:
    lmp = ctx.health.lmp
    assert lmp is not None
    booked = False
    for week in ANTENATAL_WEEKS:
        day = lmp + timedelta(days=7 * week + ctx.rng.randint(0, 4))
        if day > TODAY:
            break
        enc, minutes = visit(ctx, "prenatal", gp, day, ("pregnancy",))
        if not booked:  # 建册: the pregnancy enters the record at booking
            condition(ctx, "pregnancy", gp, instant(day, minutes), onset=lmp + timedelta(days=42), enc=enc)
            care_plan(ctx, "pregnancy", gp, day, instant(day, minutes))
            medication_statement(ctx, "folic_acid", gp, lmp - timedelta(days=60), instant(day, minutes))
            booked = True
        vitals(ctx, enc, day, minutes, gp, ("bp", "weight"))


CHILD_MONTHS = (3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72)


def _child_checks(ctx: Ctx, gp: Staff) -> None:
    p = ctx.person
    care_plan(ctx, "child", gp, p.birth + timedelta(days=30), noon(max(p.birth, HISTORY_START)))
    for months in CHILD_MONTHS:
        day = p.birth + timedelta(days=int(months * 30.44) + ctx.rng.randint(0, 10))
        if HISTORY_START <= day <= TODAY and ctx.rng.random() < 0.85:
            enc, minutes = visit(ctx, "child", gp, day)
            vitals(ctx, enc, day, minutes, gp, ("height", "weight") + (("bmi",) if months >= 24 else ()))


def _flu(ctx: Ctx, nurse: Staff) -> None:
    """Autumn influenza vaccination for the over-60s, the chronically ill and young children."""
    p, h, rng = ctx.person, ctx.health, ctx.rng
    for year in range(HISTORY_START.year, TODAY.year + 1):
        day = random_day(rng, date(year, 10, 8), date(year, 12, 20))
        age = p.age(day)
        eligible = age >= 60 or any(h.has(k) for k in CHRONIC) or (0 < age < 7)
        if eligible and day <= TODAY and (day - p.birth).days > 180 and rng.random() < 0.5:
            immunization(
                ctx, nurse, instant(day, 9 * 60 + 5 * rng.randrange(90)), f"{year}{rng.randrange(10**6):06d}"
            )

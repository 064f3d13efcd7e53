"""A person's health history, and the context in which one member records its part of it.

`draw_health` decides once what is true of the person (diagnoses and onsets, medicines, how well
blood pressure and glucose are controlled, allergies, acute episodes); each member then records only
its own part of it (care, care_hospital), so the same truth shows up differently across the alliance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from yilian.demo.feed import (
    HISTORY_START,
    TODAY,
    FeedBuilder,
    org_ref,
    random_day,
)
from yilian.demo.people import Person
from yilian.demo.staff import Staff, staff_ref

# --- the person's health ----------------------------------------------------------------------

# Chronic-disease prevalence by age band (<30, 30-44, 45-59, 60-74, 75+), higher than the general
# population because the demo is about chronic care.
_PREVALENCE = {
    "htn": (0.0, 0.12, 0.35, 0.50, 0.60),
    "t2dm": (0.0, 0.05, 0.18, 0.25, 0.25),
    "hld": (0.0, 0.10, 0.25, 0.30, 0.30),
    "copd": (0.0, 0.0, 0.05, 0.12, 0.15),
    "chd": (0.0, 0.0, 0.06, 0.15, 0.22),
    "stroke": (0.0, 0.0, 0.03, 0.08, 0.12),
    "ckd": (0.0, 0.0, 0.04, 0.07, 0.10),
}
PATTERNS = ("controlled", "controlled", "improving", "uncontrolled", "variable")


@dataclass
class Health:
    onset: dict[str, date] = field(default_factory=dict)  # chronic diagnosis -> onset
    drugs: dict[str, list[str]] = field(default_factory=dict)  # diagnosis -> drug keys
    control: dict[str, tuple[str, date]] = field(default_factory=dict)  # programme -> (pattern, pivot)
    allergies: list[str] = field(default_factory=list)
    lmp: date | None = None  # last menstrual period, when pregnant
    events: list[tuple[str, date]] = field(default_factory=list)  # acute episodes in the history window

    def has(self, key: str) -> bool:
        return key in self.onset

    def all_drugs(self) -> list[str]:
        seen: list[str] = []
        for keys in self.drugs.values():
            seen.extend(k for k in keys if k not in seen)
        return seen


def _band(age: int) -> int:
    return 0 if age < 30 else 1 if age < 45 else 2 if age < 60 else 3 if age < 75 else 4


def draw_health(rng: random.Random, person: Person) -> Health:
    h = Health()
    age, band = person.age(), _band(person.age())
    earliest = max(date(2000, 1, 1), person.birth + timedelta(days=365 * 28))
    for key, probs in _PREVALENCE.items():
        boost = 1.5 if key in ("chd", "stroke", "ckd") and h.has("htn") else 1.0
        if rng.random() < probs[band] * boost:
            h.onset[key] = random_day(rng, earliest, TODAY - timedelta(days=90))
    for prog in ("htn", "t2dm"):
        if h.has(prog):
            h.control[prog] = (rng.choice(PATTERNS), random_day(rng, date(2023, 1, 1), date(2025, 6, 30)))
    _choose_drugs(rng, h)
    for allergen, p in (("penicillin", 0.10), ("sulfonamide", 0.04)):
        if rng.random() < p:
            h.allergies.append(allergen)
    if person.pregnant:
        h.lmp = TODAY - timedelta(days=7 * rng.randint(9, 38) + rng.randint(0, 6))
        h.drugs["pregnancy"] = ["folic_acid"]
    _choose_events(rng, h, age)
    return h


def _choose_drugs(rng: random.Random, h: Health) -> None:
    if h.has("htn"):
        first = rng.choice(("amlodipine", "nifedipine", "losartan"))
        h.drugs["htn"] = [first]
        if rng.random() < 0.4:
            h.drugs["htn"].append(rng.choice([d for d in ("losartan", "hctz", "metoprolol") if d != first]))
    if h.has("t2dm"):
        extra = rng.choices(((), ("acarbose",), ("glargine",)), weights=(55, 30, 15))[0]
        h.drugs["t2dm"] = ["metformin", *extra]
    if h.has("hld"):
        h.drugs["hld"] = ["atorvastatin"]
    if h.has("chd"):
        h.drugs["chd"] = ["aspirin", "atorvastatin"] + (["metoprolol"] if rng.random() < 0.5 else [])
    if h.has("stroke"):
        h.drugs["stroke"] = [rng.choice(("aspirin", "clopidogrel")), "atorvastatin"]
    if h.has("copd"):
        h.drugs["copd"] = ["tiotropium"]
    if h.has("ckd") and "losartan" not in h.drugs.get("htn", []):
        h.drugs["ckd"] = ["losartan"]


def _choose_events(rng: random.Random, h: Health, age: int) -> None:
    """Acute episodes that bring the person to a hospital between 2022 and today."""
    for key, event, again in (("chd", "pci", 0.3), ("stroke", "stroke", 0.15)):
        if not h.has(key):
            continue
        if h.onset[key] >= HISTORY_START:  # the diagnosis was this episode
            h.events.append((event, h.onset[key]))
        elif rng.random() < again:  # a new stent, a second stroke
            h.events.append((event, random_day(rng, HISTORY_START, TODAY - timedelta(days=30))))
    if any(e == "pci" for e, _ in h.events):
        h.drugs["chd"].append("clopidogrel")
    if h.has("copd") and rng.random() < 0.5:
        h.events.append(
            ("copd", random_day(rng, max(HISTORY_START, h.onset["copd"]), TODAY - timedelta(days=20)))
        )
    if h.control.get("htn", ("",))[0] in ("uncontrolled", "variable") and rng.random() < 0.35:
        h.events.append(
            ("urgency", random_day(rng, max(HISTORY_START, h.onset["htn"]), TODAY - timedelta(days=7)))
        )
    for _ in range(rng.choices((0, 1, 2), weights=(3, 4, 3) if age < 14 else (85, 15, 0))[0]):
        h.events.append(("uri", random_day(rng, HISTORY_START, TODAY - timedelta(days=3))))
    h.events.sort(key=lambda e: e[1])


def controlled(rng: random.Random, h: Health, programme: str, when: date) -> bool:
    pattern, pivot = h.control.get(programme, ("controlled", TODAY))
    p = {"controlled": 0.9, "uncontrolled": 0.15, "variable": 0.5}.get(pattern)
    if p is None:  # improving: poor before the pivot, good after
        p = 0.85 if when >= pivot else 0.2
    return rng.random() < p


# --- where the care happens -------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    member_id: str
    name: str
    kind: str  # a MEMBER_TYPE code
    staff: tuple[Staff, ...]


@dataclass
class Ctx:
    """What a member knows while writing one patient's bundle."""

    builder: FeedBuilder
    rng: random.Random
    person: Person
    health: Health
    site: Site
    patient: dict  # reference to the Patient entry
    problems: dict[str, dict] = field(default_factory=dict)  # diagnosis -> Condition reference here
    asked_allergies: bool = False  # allergies are taken down at the first visit

    def staff(self, s: Staff) -> dict:
        return staff_ref(self.builder, s)

    @property
    def org(self) -> dict:
        return org_ref(self.site.member_id, self.site.name)

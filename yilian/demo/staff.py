"""Each member's clinicians, as Practitioner and PractitionerRole entries in that member's bundles.

A clinician appears in every bundle that references them, as a conditional create keyed on the
member's staff number, so loading a member's bundles one after another yields one Practitioner. The
member's whole staff is also its roster (`roster_bundle`): what its staff system sends, MFN^M02 from a
hospital, a staff export from a community centre.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date

from yilian.alliance.codes import BASE
from yilian.demo import names
from yilian.demo.feed import SCT, TERMINOLOGY, FeedBuilder, coding, concept, org_ref

# key: (SNOMED specialty or None, display, Chinese department)
DEPARTMENTS: dict[str, tuple[str | None, str | None, str]] = {
    "gp": ("394814009", "General practice", "全科医学科"),
    "internal": ("419192003", "Internal medicine", "内科"),
    "tcm": (None, None, "中医内科"),
    "cardiology": ("394579002", "Cardiology", "心血管内科"),
    "endocrinology": ("394583002", "Endocrinology", "内分泌科"),
    "respiratory": ("418112009", "Pulmonary medicine", "呼吸与危重症医学科"),
    "neurology": ("394591006", "Neurology", "神经内科"),
    "nephrology": ("394589003", "Nephrology", "肾内科"),
    "obstetrics": ("394585009", "Obstetrics and gynecology", "妇产科"),
    "pediatrics": ("394537008", "Pediatric specialty", "儿科"),
    "emergency": ("773568002", "Emergency medicine", "急诊科"),
    "radiology": ("394914008", "Radiology", "医学影像科"),
    "laboratory": (None, None, "检验科"),
    "nursing": (None, None, "预防接种门诊"),
    "public_health": (None, None, "公共卫生科"),
}
DOCTOR_TITLES = ("主任医师", "副主任医师", "主治医师", "主治医师", "住院医师")
NURSE_TITLES = ("主管护师", "护师")
PRACTITIONER_ROLE = f"{TERMINOLOGY}/practitioner-role"


@dataclass(frozen=True)
class Staff:
    key: str  # the member's staff number, unique in the alliance
    member_id: str
    member_name: str
    family: str
    given: str
    sex: str
    department: str
    title: str
    birth_date: str
    phone: str
    since: str  # the day they joined the member (入职日期)

    @property
    def name(self) -> str:
        return self.family + self.given

    @property
    def is_nurse(self) -> bool:
        return self.department == "nursing"


def staff_system(member_id: str) -> str:
    return f"{BASE}/NamingSystem/staff/{member_id}"


def roster(rng: random.Random, member_id: str, member_name: str, departments: tuple[str, ...]) -> list[Staff]:
    """One clinician per department, drawn like any other resident of working age."""
    out = []
    for n, dept in enumerate(departments, start=1):
        sex = "female" if dept == "nursing" else rng.choice(("male", "female"))
        birth_year = rng.randint(1965, 1995)
        title = rng.choice(NURSE_TITLES if dept == "nursing" else DOCTOR_TITLES)
        family, given = names.draw_surname(rng), names.draw_given(rng, birth_year, sex)
        # The personnel-file details come from their own generator, seeded by what was drawn above,
        # so the alliance's draws (and everything generated after the rosters) stay as they were.
        own = random.Random(f"{member_id}/{n}/{family}{given}/{birth_year}")
        born = date(birth_year, own.randint(1, 12), own.randint(1, 28))
        joined = date(own.randint(min(birth_year + 24, 2021), 2021), own.randint(1, 12), 1)
        phone = f"1{own.choice('35789')}{own.randrange(10**9):09d}"
        key = f"{member_id}-s{n:02d}"
        out.append(
            Staff(key, member_id, member_name, family, given, sex, dept, title, f"{born}", phone, f"{joined}")
        )
    return out


def pick(staff: list[Staff], *departments: str) -> Staff:
    """The first clinician of the first department this member has; its first doctor otherwise."""
    for dept in departments:
        for s in staff:
            if s.department == dept:
                return s
    return staff[0]


def _practitioner(s: Staff) -> dict:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"use": "official", "system": staff_system(s.member_id), "value": s.key}],
        "active": True,
        "name": [{"use": "official", "text": s.name, "family": s.family, "given": [s.given]}],
        "telecom": [{"system": "phone", "value": s.phone, "use": "mobile"}],
        "gender": s.sex,
        "birthDate": s.birth_date,
        "qualification": [{"code": concept(text=s.title)}],
    }


def _role(s: Staff, practitioner: dict) -> dict:
    sct, display, dept = DEPARTMENTS[s.department]
    specialty = concept(coding(SCT, sct, display), text=dept) if sct else concept(text=dept)
    role = ("nurse", "Nurse") if s.is_nurse else ("doctor", "Doctor")
    return {
        "resourceType": "PractitionerRole",
        "identifier": [{"use": "official", "system": f"{staff_system(s.member_id)}/role", "value": s.key}],
        "active": True,
        "period": {"start": s.since},
        "practitioner": {**practitioner, "display": s.name},
        "organization": org_ref(s.member_id, s.member_name),
        "code": [concept(coding(PRACTITIONER_ROLE, *role), text=s.title)],
        "specialty": [specialty],
    }


def staff_ref(builder: FeedBuilder, s: Staff) -> dict:
    """A reference to the clinician, adding their Practitioner and PractitionerRole on first use."""
    if s.key not in builder.known:
        practitioner = builder.add(
            _practitioner(s), head=True, if_none_exist=f"identifier={staff_system(s.member_id)}|{s.key}"
        )
        builder.add(
            _role(s, practitioner),
            head=True,
            if_none_exist=f"identifier={staff_system(s.member_id)}/role|{s.key}",
        )
        builder.known[s.key] = {**practitioner, "display": s.name}
    return dict(builder.known[s.key])


def roster_bundle(namespace: uuid.UUID, member_id: str, staff: tuple[Staff, ...]) -> dict:
    """The member's whole staff, each clinician's Practitioner and PractitionerRole, as its staff
    system holds them (the truth its staff master file or staff export is written from)."""
    builder = FeedBuilder(namespace, member_id, f"{member_id}/roster")
    for s in staff:
        staff_ref(builder, s)
    return builder.bundle()

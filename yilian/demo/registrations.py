"""How each member registered a resident: the local Patient, with the everyday differences.

A registration is one member's record of a person. Record linkage has to see through what differs
between them: a missing resident ID, an old phone number, a name typed in pinyin, a one-character
homophone typo, an address cut down to road and number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from yilian.alliance.codes import HEALTH_RECORD_OID_ROOT, RESIDENT_ID
from yilian.demo import names
from yilian.demo.feed import V2_0203, coding, concept, org_ref
from yilian.demo.people import Person


@dataclass
class Registration:
    """One member's record of a person; `mrn` is also the local Patient id kept in the truth table."""

    person: Person
    member_id: str
    member_name: str
    member_number: int
    mrn: str
    name_style: str = "chinese"  # chinese | pinyin | typo
    typo_given: str | None = None
    with_resident_id: bool = True
    old_phone: bool = False
    short_address: bool = False

    @property
    def mrn_system(self) -> str:
        return f"urn:oid:{HEALTH_RECORD_OID_ROOT}.{self.member_number}"

    @property
    def conditional(self) -> str:
        return f"identifier={self.mrn_system}|{self.mrn}"


def add_variations(rng: random.Random, regs: list[Registration]) -> None:
    """Spread realistic differences over a person's registrations; regs[0] is the community centre."""
    person = regs[0].person
    for reg in regs:
        reg.with_resident_id = rng.random() > 0.12
        reg.short_address = reg is not regs[0] and rng.random() < 0.4
    if person.old_mobile and rng.random() < 0.6:
        rng.choice(regs).old_phone = True  # registered before the number changed
    others = regs[1:] or regs
    if rng.random() < 0.2:  # typed at a self-service kiosk, or by a clerk without a Chinese input method
        rng.choice(others).name_style = "pinyin"
    clean = [r for r in regs if r.name_style == "chinese"]
    if clean and rng.random() < 0.15:
        reg = rng.choice(clean)
        reg.typo_given = names.typo(person.given, rng)
        if reg.typo_given:
            reg.name_style = "typo"


def _name(reg: Registration) -> dict:
    p = reg.person
    if reg.name_style == "pinyin":
        family, given = names.surname_pinyin(p.family), names.given_pinyin(p.given)
        return {"use": "usual", "text": f"{family} {given}", "family": family, "given": [given]}
    given = reg.typo_given or p.given
    return {"use": "official", "text": p.family + given, "family": p.family, "given": [given]}


def _telecom(reg: Registration) -> list[dict]:
    p = reg.person
    out = []
    mobile = p.old_mobile if reg.old_phone else p.mobile
    if mobile:
        out.append({"system": "phone", "value": mobile, "use": "mobile"})
    if p.home_phone:
        out.append({"system": "phone", "value": p.home_phone, "use": "home"})
    return out


def patient_resource(reg: Registration) -> dict:
    """The member's local Patient (no id: it is created conditionally on the MRN)."""
    p = reg.person
    identifiers = [
        {
            "use": "usual",
            "type": concept(coding(V2_0203, "MR", "Medical record number"), text="病案号"),
            "system": reg.mrn_system,
            "value": reg.mrn,
        }
    ]
    if reg.with_resident_id:
        identifiers.append(
            {
                "use": "official",
                "type": concept(
                    coding(V2_0203, "NI", "National unique individual identifier"), text="居民身份证"
                ),
                "system": RESIDENT_ID,
                "value": p.resident_id,
            }
        )
    patient = {"resourceType": "Patient", "identifier": identifiers, "active": True, "name": [_name(reg)]}
    if telecom := _telecom(reg):
        patient["telecom"] = telecom
    patient.update(
        {
            "gender": p.sex,
            "birthDate": p.birth.isoformat(),
            "address": [p.address.resource(reg.short_address)],
            "managingOrganization": org_ref(reg.member_id, reg.member_name),
        }
    )
    return patient

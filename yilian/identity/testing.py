"""Building Patients for the index's tests: a resident as one member registers them."""

from __future__ import annotations

from yilian.alliance.codes import RESIDENT_ID
from yilian.identity.resident_id import check_char


def resident_id(region: str, birth: str, seq: int) -> str:
    """A valid resident ID: region, birth date (ISO) and a sequence number (odd: male)."""
    body = f"{region}{birth.replace('-', '')}{seq:03d}"
    return body + check_char(body)


def patient(
    name: str | None = "张建国",
    birth: str | None = "1960-03-08",
    sex: str = "male",
    rid: str | None = None,
    phone: str | None = "13812345678",
    address: str | None = "江南大道12号",
    mrn: str = "1001",
    member_no: int = 1,
    pinyin: str | None = None,
    **extra: object,
) -> dict:
    p: dict = {
        "resourceType": "Patient",
        "gender": sex,
        "identifier": [{"system": f"urn:oid:2.16.156.10011.1.2.{member_no}", "value": mrn}],
    }
    if rid:
        p["identifier"].append({"system": RESIDENT_ID, "value": rid})
    names = []
    if name:
        names.append({"use": "official", "text": name, "family": name[0], "given": [name[1:]]})
    if pinyin:
        names.append({"use": "usual", "text": pinyin})
    if names:
        p["name"] = names
    if birth:
        p["birthDate"] = birth
    if phone:
        p["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    if address:
        p["address"] = [{"use": "home", "line": [address], "city": "滨江市", "district": "滨江区"}]
    p.update(extra)
    return p

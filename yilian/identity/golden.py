"""The golden record of a person: the best value of each field from the person's records, and where each
came from; rendered as a FHIR Person linking every member's Patient (Person/[id]/$golden).

Rules: the resident ID held by most records (valid, and agreeing with its record); birth date and sex read
out of that ID when there is one; the name in characters that most records use (the newest breaks ties),
with a pinyin name beside it; phones newest first; the most complete home address of the newest records;
every member's record number.
"""

from __future__ import annotations

from collections import Counter

from yilian.alliance.codes import RESIDENT_ID
from yilian.identity import resident_id
from yilian.identity.clusters import own_id
from yilian.identity.index import Indexed

SOURCE_EXT = "https://yilian.org/fhir/StructureDefinition/golden-source"
ASSURANCE = {"match": "level4", "a40": "level4", "auto": "level3"}


def golden(records: list[Indexed]) -> dict:
    """field -> {value, source (Patient id), member, rule}."""
    live = sorted((r for r in records if r.active), key=lambda r: -r.version) or records
    out: dict = {}
    ids = Counter(i for r in live if (i := own_id(r.features)))
    if ids:
        value = ids.most_common(1)[0][0]
        src = next(r for r in live if own_id(r.features) == value)
        out["resident_id"] = _field(value, src, "most records")
        parsed = resident_id.parse(value)
        out["birthDate"] = _field(parsed.birth, src, "read from the resident ID")
        out["gender"] = _field(parsed.sex, src, "read from the resident ID")
    for fld, key in (("birthDate", "birthDate"), ("gender", "gender")):
        if fld not in out:
            values = Counter(v for r in live if (v := r.demographics.get(key)))
            if values:
                value = values.most_common(1)[0][0]
                out[fld] = _field(
                    value, next(r for r in live if r.demographics.get(key) == value), "most records"
                )
    _name(out, live)
    phones = []
    for r in live:
        for t in r.demographics.get("telecom", []):
            if t.get("value") and t["value"] not in [p["value"] for p, _ in phones]:
                phones.append((t, r))
    if phones:
        out["telecom"] = [_field(t, r, "newest first") for t, r in phones[:4]]
    addresses = [(a, r) for r in live[:3] for a in r.demographics.get("address", [])[:1]]
    if addresses:
        a, r = max(addresses, key=lambda ar: len(ar[0].get("text") or "".join(ar[0].get("line") or [])))
        out["address"] = _field(a, r, "most complete of the newest")
    return out


def _name(out: dict, live: list[Indexed]) -> None:
    chinese = Counter(r.features["name_chars"] for r in live if r.features.get("name_chars"))
    if chinese:
        value = chinese.most_common(1)[0][0]
        src = next(r for r in live if r.features.get("name_chars") == value)
        name = next(
            (n for n in src.demographics.get("name", []) if value in _text(n).replace(" ", "")),
            {"text": value},
        )
        out["name"] = _field(name, src, "most records")
    latin = next((r for r in live if r.features.get("name_key") and not r.features.get("name_chars")), None)
    if latin or live[0].features.get("family_py"):
        src = latin or live[0]
        f = src.features
        text = " ".join(p.capitalize() for p in (f.get("family_py"), f.get("given_py")) if p)
        out["name_pinyin"] = _field({"use": "usual", "text": text}, src, "pinyin")


def _text(name: dict) -> str:
    return name.get("text") or (name.get("family") or "") + "".join(name.get("given") or [])


def _field(value: object, src: Indexed, rule: str) -> dict:
    return {"value": value, "source": src.patient_id, "member": src.member, "rule": rule}


def person_resource(person_id: str, records: list[Indexed], fields: dict, assurance: dict[str, str]) -> dict:
    """The FHIR Person: golden values, a link to every record, and the source of each value."""
    person: dict = {"resourceType": "Person", "id": person_id, "active": True}
    identifiers = []
    if "resident_id" in fields:
        identifiers.append(
            {"use": "official", "system": RESIDENT_ID, "value": fields["resident_id"]["value"]}
        )
    for r in records:
        for i in r.demographics.get("identifier", []):
            if i.get("system") != RESIDENT_ID and i.get("value"):
                identifiers.append({"use": "secondary", "system": i.get("system"), "value": i["value"]})
    if identifiers:
        person["identifier"] = identifiers
    names = [fields[k]["value"] for k in ("name", "name_pinyin") if k in fields]
    if names:
        person["name"] = [
            {k: v for k, v in n.items() if k in ("use", "text", "family", "given")} for n in names
        ]
    if "telecom" in fields:
        person["telecom"] = [f["value"] for f in fields["telecom"]]
    for key in ("gender", "birthDate"):
        if key in fields and fields[key]["value"]:
            person[key] = fields[key]["value"]
    if "address" in fields:
        person["address"] = [fields["address"]["value"]]
    person["link"] = [
        {
            "target": {"reference": f"Patient/{r.patient_id}"},
            "assurance": assurance.get(r.patient_id, "level3"),
        }
        for r in records
    ]
    sources = [
        {"url": key, "valueReference": {"reference": f"Patient/{v['source']}"}}
        for key, v in fields.items()
        if isinstance(v, dict) and v.get("source")
    ]
    if sources:
        person["extension"] = [{"url": SOURCE_EXT, "extension": sources}]
    return person

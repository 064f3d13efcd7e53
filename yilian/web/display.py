"""Pure helpers that turn FHIR data types into what a page shows: names, concepts, masked identifiers, ages.

Nothing here touches the request, the database or the language beyond plain arguments, so each helper is
unit-testable on a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yilian.alliance.codes import RESIDENT_ID, SOURCE_MEMBER

MR_TYPE = "MR"


def concept_text(concept: dict | None) -> str:
    """A CodeableConcept as stored: its text, else the first coding's display, else its code."""
    if not concept:
        return ""
    if concept.get("text"):
        return concept["text"]
    for coding in concept.get("coding", []):
        if coding.get("display") or coding.get("code"):
            return coding.get("display") or coding["code"]
    return ""


def coding_code(concept: dict | None, system_suffix: str = "") -> str | None:
    """The first code of a CodeableConcept whose system ends with `system_suffix`."""
    for coding in (concept or {}).get("coding", []):
        if coding.get("system", "").endswith(system_suffix) and coding.get("code"):
            return coding["code"]
    return None


def source_member(resource: dict) -> str | None:
    """The member a resource came from: its SOURCE_MEMBER meta.tag."""
    for tag in resource.get("meta", {}).get("tag", []):
        if tag.get("system") == SOURCE_MEMBER:
            return tag.get("code")
    return None


def human_name(name: dict) -> str:
    """One HumanName: its text, else family + given (no space for CJK, a space for pinyin)."""
    if name.get("text"):
        return name["text"]
    family, given = name.get("family", ""), "".join(name.get("given", []))
    joiner = " " if (family + given).isascii() and family and given else ""
    return f"{family}{joiner}{given}".strip()


def patient_name(patient: dict) -> str:
    """The official name first, then any other."""
    names = sorted(patient.get("name", []), key=lambda n: n.get("use") != "official")
    for n in names:
        if text := human_name(n):
            return text
    return "—"


def resident_id(patient: dict) -> str | None:
    for ident in patient.get("identifier", []):
        if ident.get("system") == RESIDENT_ID and ident.get("value"):
            return ident["value"]
    return None


def mask_resident_id(value: str | None) -> str:
    """330106********1234: region kept, birth date and sequence hidden, last four kept."""
    if not value:
        return ""
    if len(value) <= 10:
        return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    """138****5678 for an 11-digit mobile; other numbers keep their first three and last four."""
    if not value:
        return ""
    if len(value) <= 7:
        return value[:2] + "*" * (len(value) - 2)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def phones(patient: dict) -> list[str]:
    return [t["value"] for t in patient.get("telecom", []) if t.get("system") == "phone" and t.get("value")]


@dataclass(frozen=True)
class Identifier:
    kind: str  # "resident" | "mrn" | "other"
    value: str  # already masked where the kind calls for it
    label: str  # the identifier's own type text, as stored


def identifiers(patient: dict) -> list[Identifier]:
    """The identifiers worth showing: resident ID (masked), medical record numbers, then the rest."""
    out = []
    for ident in patient.get("identifier", []):
        value = ident.get("value")
        if not value:
            continue
        label = concept_text(ident.get("type"))
        if ident.get("system") == RESIDENT_ID:
            out.append(Identifier("resident", mask_resident_id(value), label))
        elif coding_code(ident.get("type")) == MR_TYPE:
            out.append(Identifier("mrn", value, label))
        else:
            out.append(Identifier("other", value, label))
    order = {"resident": 0, "mrn": 1, "other": 2}
    return sorted(out, key=lambda i: order[i.kind])


def parse_date(value: str | None) -> date | None:
    """The calendar date of a FHIR date or dateTime (year-only and year-month dates give None)."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def age(birth: str | None, today: date) -> int | None:
    born = parse_date(birth)
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def address_text(addresses: list[dict] | None) -> str:
    """The first address as one line: its text, else its parts in Chinese order (largest first)."""
    for a in addresses or []:
        if a.get("text"):
            return a["text"]
        parts = [a.get("state"), a.get("city"), a.get("district"), *a.get("line", [])]
        if line := "".join(p for p in parts if p):
            return line
    return ""


def quantity_text(quantity: dict | None) -> tuple[str, str]:
    """(value, unit) of a Quantity, the unit as stored for display (mm[Hg] shown as mmHg)."""
    if not quantity or quantity.get("value") is None:
        return "", ""
    unit = quantity.get("unit") or quantity.get("code") or ""
    return str(quantity["value"]), ("mmHg" if unit == "mm[Hg]" else unit)

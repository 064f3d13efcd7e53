"""One CSV row as the mapping names its fields, with the conversions every kind needs (dates, numbers,
codes through the member's code map, the patient and visit references, clinicians)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yilian.ingest.bundle import MappedBundle, identifier_query
from yilian.ingest.codes import CodeMap
from yilian.ingest.csv.mapping import FileSpec
from yilian.ingest.errors import DATA_TYPE, REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.context import staff_system
from yilian.ingest.hl7v2.types import member_system

GENDER = {  # what exports write for a person's sex
    "male": "male",
    "female": "female",
    "m": "male",
    "f": "female",
    "男": "male",
    "女": "female",
    "1": "male",
    "2": "female",
    "other": "other",
    "unknown": "unknown",
    "9": "unknown",
    "0": "unknown",
}

LOCAL_ZONE = "+08:00"
_DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


@dataclass
class Row:
    values: dict[str, str]  # field -> value
    line: int
    spec: FileSpec
    member: str
    mrn_system: str
    codes: CodeMap
    out: MappedBundle
    events: list[str] = field(default_factory=list)
    staff: dict[str, dict] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def where(self, name: str) -> str:
        return f"row {self.line}, column {self.spec.columns.get(name, name)}"

    def need(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise IngestError(
                f"{self.spec.columns.get(name, name)} is empty",
                location=self.where(name),
                code=REQUIRED_MISSING,
            )
        return value

    def translate(self, name: str, table: dict[str, str]) -> str:
        raw = self.get(name)
        mine = self.spec.values.get(name, {})
        value = mine.get(raw, raw)
        if value in table.values():
            return value
        found = table.get(value.lower())
        if found is None:
            raise IngestError(
                f"{raw!r} is not a value Yilian knows for {name} (add it under "
                f"files.{self.spec.kind}.values.{name} in the mapping)",
                location=self.where(name),
                code=DATA_TYPE,
            )
        return found

    def number(self, name: str) -> int | float:
        raw = self.get(name)
        try:
            value = float(raw)
        except ValueError:
            raise IngestError(f"{raw!r} is not a number", location=self.where(name), code=DATA_TYPE) from None
        return int(value) if value.is_integer() and "." not in raw else value

    def time(self, name: str) -> str | None:
        """A date or date-time as Chinese systems spell it (2026-11-24, 2026/11/24 08:30, 2026年11月24日)."""
        raw = self.get(name)
        if not raw:
            return None
        if "T" in raw and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$", raw):
            return raw if raw.count(":") >= 3 or raw.endswith("Z") else raw[:16] + ":00" + raw[16:]
        m = _DATE.match(raw)
        if not m:
            raise IngestError(
                f"{raw!r} is not a date (expected 2026-11-24 or 2026-11-24 08:30)",
                location=self.where(name),
                code=DATA_TYPE,
            )
        y, mo, d, h, mi, s = m.groups()
        day = f"{y}-{int(mo):02d}-{int(d):02d}"
        from datetime import date

        try:
            date.fromisoformat(day)
        except ValueError:
            raise IngestError(
                f"{raw!r} is not a real date", location=self.where(name), code=DATA_TYPE
            ) from None
        if h is None:
            return day
        return f"{day}T{int(h):02d}:{mi}:{s or '00'}{LOCAL_ZONE}"

    def date(self, name: str) -> str | None:
        found = self.time(name)
        return found[:10] if found else None

    def event(self, when: str | None) -> None:
        if when:
            self.events.append(when)

    # --- references and codes ---------------------------------------------------------------------

    @property
    def org(self) -> dict:
        return {"reference": f"Organization/{self.member}"}

    def mrn_identifier(self) -> dict:
        return {
            "use": "usual",
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
                "text": "健康档案号",
            },
            "system": self.mrn_system,
            "value": self.need("mrn"),
        }

    @property
    def patient(self) -> dict:
        """The member's Patient: this file's own entry for patients, else a conditional reference."""
        if self.spec.kind == "patients":
            return {"reference": self.out.entries[0]["fullUrl"]}
        ident = {"system": self.mrn_system, "value": self.need("mrn")}
        return {"reference": f"Patient?{identifier_query(ident)}"}

    def visit(self) -> dict | None:
        if not self.get("visit_no"):
            return None
        return {"reference": f"Encounter?{identifier_query(self.key('visit', self.get('visit_no')))}"}

    def key(self, what: str, value: str) -> dict:
        return {"system": member_system(self.member, what), "value": value}

    def concept(self, kind: str, code_field: str, name_field: str, system: str | None = None) -> dict:
        concept = self.codes.concept(kind, self.get(code_field), self.get(name_field), system or "")
        if not concept:
            raise IngestError(
                f"{self.spec.columns.get(code_field, code_field)} is empty",
                location=self.where(code_field),
                code=REQUIRED_MISSING,
            )
        return concept

    def clinician(self, id_field: str, name_field: str) -> dict | None:
        ident, name = self.get(id_field), self.get(name_field)
        if not ident:
            return {"display": name} if name else None
        if ident not in self.staff:
            practitioner: dict = {"resourceType": "Practitioner", "active": True}
            if name:
                practitioner["name"] = [
                    {"text": name, "family": name[:1], "given": [name[1:]]}
                    if len(name) > 1
                    else {"text": name}
                ]
            ref = self.out.create(practitioner, {"system": staff_system(self.member), "value": ident})
            self.staff[ident] = {**ref, "display": name} if name else ref
        return dict(self.staff[ident])

    def person(self, resource: dict, phones: tuple[tuple[str, str], ...]) -> None:
        """A person's name, phones (field, use), e-mail, sex and birth date from the row into `resource`."""
        if name := self.name():
            resource["name"] = [name]
        telecom = [{"system": "phone", "value": self.get(k), "use": use} for k, use in phones if self.get(k)]
        if self.get("email"):
            telecom.append({"system": "email", "value": self.get("email")})
        if telecom:
            resource["telecom"] = telecom
        if self.get("gender"):
            resource["gender"] = self.translate("gender", GENDER)
        if birth := self.date("birth_date"):
            resource["birthDate"] = birth

    def name(self) -> dict | None:
        family, given, full = self.get("family"), self.get("given"), self.get("name")
        if not (family or given or full):
            return None
        cjk = any("\u4e00" <= ch <= "\u9fff" for ch in full + family + given)
        if not (family or given):
            if cjk:
                family, given = full[:1], full[1:]
            else:
                family, _, given = full.partition(" ")
        text = full or (family + given if cjk else f"{family} {given}".strip())
        out: dict = {"use": "official" if cjk else "usual", "text": text}
        if family:
            out["family"] = family
        if given:
            out["given"] = [given]
        return out

    def address(self) -> dict | None:
        line, province, city, district = (self.get(k) for k in ("address", "province", "city", "district"))
        if not (line or city or district):
            return None
        addr: dict = {"use": "home", "type": "physical", "text": province + city + district + line}
        if line:
            addr["line"] = [line]
        for key, value in (
            ("city", city),
            ("district", district),
            ("state", province),
            ("postalCode", self.get("postcode")),
        ):
            if value:
                addr[key] = value
        addr["country"] = "CN"
        return addr

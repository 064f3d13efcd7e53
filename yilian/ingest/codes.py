"""Local codes to standard ones, through each member's own code tables.

A member's LIS says `GLU`, its HIS says `YP0012`; the alliance wants LOINC, ICD-10 and the national
insurance (NHSA) drug code. A CodeMap holds one member's tables (kind -> local code -> standard
codings). A code that is already standard passes through; a mapped local code becomes the standard
codings followed by the local one (kept, so nothing the member said is lost); an unmapped code keeps
only its local coding, in a system naming the member and the kind, and is recorded for the quality
report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.alliance.codes import BASE

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NHSA_DRUG = f"{BASE}/NamingSystem/nhsa-drug"  # 国家医保药品编码 (the national insurance drug code)

# HL7 table 0396 names, and what Chinese vendors write, for systems the alliance treats as standard.
STANDARD = {
    "LN": LOINC,
    "LOINC": LOINC,
    "I10": ICD10,
    "I10C": ICD10,
    "ICD10": ICD10,
    "ICD-10": ICD10,
    "ICD10CN": ICD10,
    "SCT": SNOMED,
    "SNM": SNOMED,
    "SNOMEDCT": SNOMED,
    "RXNORM": RXNORM,
    "RXN": RXNORM,
    "UCUM": UCUM,
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "DCM": "http://dicom.nema.org/resources/ontology/DCM",
    "NHSA": NHSA_DRUG,
    "YBYP": NHSA_DRUG,
}
SHORTHAND = {"loinc": LOINC, "icd10": ICD10, "snomed": SNOMED, "rxnorm": RXNORM, "nhsa": NHSA_DRUG}
# The standard a kind of code is expected to reach (for the quality report's mapped rate).
TARGET = {"lab": LOINC, "diagnosis": ICD10, "drug": NHSA_DRUG}


def is_standard(system_name: str) -> bool:
    return system_name.strip().upper().replace(" ", "") in STANDARD


def local_system(member: str | None, kind: str) -> str:
    return f"{BASE}/CodeSystem/local/{member or 'unknown'}/{kind}"


@dataclass(frozen=True)
class Unmapped:
    kind: str
    system: str
    code: str
    display: str | None


Table = dict[str, tuple[str | None, list[dict]]]  # local code -> (local display, standard codings)


@dataclass
class CodeMap:
    member: str | None
    tables: dict[str, Table] = field(default_factory=dict)
    unmapped: list[Unmapped] = field(default_factory=list)  # what the current message did not map

    def concept(
        self, kind: str, code: str, display: str = "", system_name: str = "", *, record: bool = True
    ) -> dict:
        """A CodeableConcept for (code, display) as a member sent it, mapped when it can be (an unmapped
        local code is recorded unless `record` is False: the sender gave a standard code beside it)."""
        standard = STANDARD.get(system_name.strip().upper().replace(" ", ""))
        if not code:
            return {"text": display} if display else {}
        if standard:
            out: dict = {"coding": [_coding(standard, code, display)]}
        else:
            local = _coding(local_system(self.member, kind), code, display)
            hit = self.tables.get(kind, {}).get(code)
            if hit:
                out = {"coding": [*hit[1], local]}
            else:
                if record:
                    self.unmapped.append(Unmapped(kind, local["system"], code, display or None))
                out = {"coding": [local]}
        if display:
            out["text"] = display
        return out

    def take_unmapped(self) -> list[Unmapped]:
        found, self.unmapped = self.unmapped, []
        return found


def _coding(system: str, code: str, display: str) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def tables_from_toml(doc: dict) -> dict[str, Table]:
    """`[codes.<kind>]` tables of a member's mapping file. An entry is `LOCAL = "standard code"`
    (the kind's target system), or a table with `loinc` / `icd10` / `nhsa` / `rxnorm` / `snomed` keys,
    or `system` and `code`, and an optional `display` (the local name)."""
    out: dict[str, Table] = {}
    for kind, entries in (doc.get("codes") or {}).items():
        table: Table = {}
        for local, spec in entries.items():
            if isinstance(spec, str):
                spec = {"system": TARGET.get(kind, LOINC), "code": spec}
            codings = []
            if spec.get("system") and spec.get("code"):
                codings.append(_coding(spec["system"], str(spec["code"]), spec.get("standard_display", "")))
            codings += [_coding(s, str(spec[k]), "") for k, s in SHORTHAND.items() if spec.get(k)]
            codings += [
                _coding(c["system"], str(c["code"]), c.get("display", "")) for c in spec.get("codings", [])
            ]
            if not codings:
                raise ValueError(f"codes.{kind}.{local}: no standard code given")
            table[str(local)] = (spec.get("display"), codings)
        out[kind] = table
    return out

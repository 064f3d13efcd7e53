"""Each member's own codes, as its HIS, LIS and PACS vendors numbered things, and its code tables to the
standards (lab item -> LOINC, diagnosis -> ICD-10, drug -> national insurance code + RxNorm...).

The tertiary hospital uses mnemonic codes (GLU, HBA1C), the district hospitals and the community
centres numbered ones; the TCM hospital also codes diagnoses locally. A few codes are deliberately
missing from some tables, as in real alliances, so the quality report has unmapped codes to show.
"""

from __future__ import annotations

from yilian.demo.catalog import (
    ALLERGENS,
    DIAGNOSES,
    DIASTOLIC,
    DRUGS,
    IMAGING,
    PANELS,
    PROCEDURES,
    SYSTOLIC,
    TESTS,
    VISITS,
)
from yilian.demo.feed import CVX, ICD10, LOINC, RXNORM, SCT
from yilian.demo.staff import DEPARTMENTS, PRACTITIONER_ROLE
from yilian.ingest.codes import NHSA_DRUG

# 国家医保药品编码 (format of the NHSA's 23-character drug codes; the values are illustrative).
NHSA = {
    "amlodipine": "XC08CAA040A001010100737",
    "nifedipine": "XC08CAN037A012010101486",
    "losartan": "XC09CAL034A001010101519",
    "hctz": "XC03AAQ016A001010100226",
    "metoprolol": "XC07ABM117A012010104043",
    "metformin": "XA10BAE052A001010101496",
    "acarbose": "XA10BFA003A001010100911",
    "glargine": "XA10AEG032B002010101921",
    "atorvastatin": "XC10AAA306A001010102012",
    "aspirin": "XB01ACA056A012010100317",
    "clopidogrel": "XB01ACL101A001010101476",
    "tiotropium": "XR03BBS079L025010100383",
    "folic_acid": "XB03BBY028A001010100105",
    "amoxicillin": "XJ01CAA036E001010101408",
    "azithromycin": "XJ01FAA052A001010100540",
}
LAB_MNEMONIC = {
    "glucose": "GLU",
    "hba1c": "HBA1C",
    "tc": "TC",
    "ldl": "LDL-C",
    "creatinine": "CREA",
    "potassium": "K",
    "sodium": "NA",
    "alt": "ALT",
    "hb": "HGB",
    "hr": "HR",
    "temp": "T",
    "weight": "WT",
    "height": "HT",
    "bmi": "BMI",
    "sbp": "SBP",
    "dbp": "DBP",
}
PANEL_MNEMONIC = {"chem": "SHQX", "lipid": "XZ4X", "cbc": "XCG", "hba1c": "THXHDB"}
# Codes a member's table lacks (kind, key): these arrive unmapped and are counted.
GAPS = {
    "m-secondary-1": {("lab", "alt"), ("drug", "tiotropium")},
    "m-community-2": {("lab", "hb")},
    "m-community-3": {("drug", "acarbose")},
}
TCM_DIAGNOSIS = "m-secondary-1"
VACCINE_DISPLAY = (
    "Influenza, injectable, quadrivalent, preservative free"  # codes its diagnoses locally (中医院 HIS)
)


def _numbered(member_id: str, prefix: str, keys: list[str]) -> dict[str, str]:
    base = sum(map(ord, member_id)) % 7 + 1
    return {k: f"{prefix}{base}{i:03d}" for i, k in enumerate(keys, start=1)}


def lab_code(member_id: str, key: str) -> str:
    """The member's LIS code of a test (a TESTS key, or sbp / dbp)."""
    if member_id == "m-tertiary-1":
        return LAB_MNEMONIC[key]
    return _numbered(member_id, "L", list(LAB_MNEMONIC))[key]


def panel_code(member_id: str, key: str) -> str:
    if member_id == "m-tertiary-1":
        return PANEL_MNEMONIC[key]
    return _numbered(member_id, "P", list(PANEL_MNEMONIC))[key]


def drug_code(member_id: str, key: str) -> str:
    return _numbered(member_id, "YP", list(DRUGS))[key]


def exam_code(member_id: str, key: str) -> str:
    return _numbered(member_id, "JC", list(IMAGING))[key]


def diagnosis_code(member_id: str, key: str) -> tuple[str, str]:
    """(code, coding-system name) as the member sends a diagnosis: ICD-10, or local at the TCM hospital."""
    if member_id == TCM_DIAGNOSIS:
        return _numbered(member_id, "ZD", list(DIAGNOSES))[key], "L"
    return DIAGNOSES[key].icd10, "I10"


def simple_code(member_id: str, kind: str, key: str) -> str:
    keys = {
        "visit-type": list(VISITS),
        "procedure": list(PROCEDURES),
        "allergen": list(ALLERGENS),
        "reaction": list(ALLERGENS),  # the reaction each allergen causes in the demo
    }[kind]
    return _numbered(member_id, kind[:2].upper(), keys)[key]


STAFF_TYPES = {"doctor": "医生", "nurse": "护士"}  # FHIR practitioner-role code -> the member's name


def department_code(member_id: str, key: str) -> str:
    """The member's code of a department (科室代码), a staff.DEPARTMENTS key."""
    return _numbered(member_id, "KS", list(DEPARTMENTS))[key]


def staff_type_code(member_id: str, role: str) -> str:
    """The member's code of a kind of staff (人员类别), by FHIR practitioner-role code."""
    return _numbered(member_id, "RY", list(STAFF_TYPES))[role]


def _standard(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def code_tables(
    member_id: str, *, complete: bool = False
) -> dict[str, dict[str, tuple[str | None, list[dict]]]]:
    """The member's code tables (yilian.ingest.codes Table form) with the member's gaps left out, or
    `complete` (what every local code means: to compare what arrived with the truth)."""
    gaps = set() if complete else GAPS.get(member_id, set())
    lab: dict = {}
    tests = {
        **{k: (t.loinc, t.display, t.text) for k, t in TESTS.items()},
        "sbp": (SYSTOLIC[0], SYSTOLIC[1], SYSTOLIC[2]),
        "dbp": (DIASTOLIC[0], DIASTOLIC[1], DIASTOLIC[2]),
    }
    for key, (loinc, display, text) in tests.items():
        if ("lab", key) not in gaps:
            lab[lab_code(member_id, key)] = (text, [_standard(LOINC, loinc, display)])
    for key, (loinc, display, text, _) in PANELS.items():
        lab[panel_code(member_id, key)] = (text, [_standard(LOINC, loinc, display)])
    drug = {
        drug_code(member_id, k): (
            d.text,
            [_standard(NHSA_DRUG, NHSA[k]), _standard(RXNORM, d.rxnorm, d.rx_display)],
        )
        for k, d in DRUGS.items()
        if ("drug", k) not in gaps
    }
    tables = {
        "lab": lab,
        "drug": drug,
        "exam": {exam_code(member_id, k): (im.text, [_standard(SCT, *im.code)]) for k, im in IMAGING.items()},
        "visit-type": {
            simple_code(member_id, "visit-type", k): (v[2], [_standard(SCT, v[0], v[1])])
            for k, v in VISITS.items()
        },
        "procedure": {
            simple_code(member_id, "procedure", k): (v[2], [_standard(SCT, v[0], v[1])])
            for k, v in PROCEDURES.items()
        },
        "allergen": {
            simple_code(member_id, "allergen", k): (v[2], [_standard(SCT, v[0], v[1])])
            for k, v in ALLERGENS.items()
        },
        "reaction": {
            simple_code(member_id, "reaction", k): (v[5], [_standard(SCT, v[3], v[4])])
            for k, v in ALLERGENS.items()
        },
    }
    tables["department"] = {  # a specialty where SNOMED CT has one (not for 中医内科, 检验科...)
        department_code(member_id, k): (zh, [_standard(SCT, sct, display)])
        for k, (sct, display, zh) in DEPARTMENTS.items()
        if sct
    }
    tables["staff-type"] = {
        staff_type_code(member_id, role): (zh, [_standard(PRACTITIONER_ROLE, role, role.capitalize())])
        for role, zh in STAFF_TYPES.items()
    }
    tables["vaccine"] = {"YM0150": ("四价流感病毒裂解疫苗", [_standard(CVX, "150", VACCINE_DISPLAY)])}
    if member_id == TCM_DIAGNOSIS:
        tables["diagnosis"] = {
            diagnosis_code(member_id, k)[0]: (d.text, [_standard(ICD10, d.icd10, d.icd10_zh)])
            for k, d in DIAGNOSES.items()
        }
    return tables

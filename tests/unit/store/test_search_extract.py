"""Tests of the compiled search-parameter extractors (yilian.store.search.params and .extract)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from yilian.fhir.capability import CORE_TYPES as CAPABILITY_TYPES
from yilian.store.search.dates import MAX_TIME, MIN_TIME, date_range
from yilian.store.search.extract import (
    INDEXED_TYPES,
    IndexRows,
    compartment_patients,
    extract,
    parse_fhirpath,
    parse_reference,
    unsupported,
)
from yilian.store.search.params import (
    patient_compartment_params,
    resource_types_with_params,
    search_params,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("YILIAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SYNTHEA_TGZ = SHARED / "synthea-r4" / "set-a-100-patients.tar.gz"
LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SECOND = 1 - 1e-6  # a dateTime with seconds covers [t, t + 1 s)

# The types whose parameters must all compile (composite and special ones are never indexed).
CORE_TYPES = [
    *CAPABILITY_TYPES,  # the types the alliance works with (fhir/capability.py), and more:
    "Claim",
    "ExplanationOfBenefit",
    "Device",
    "Medication",
    "CareTeam",
    "Goal",
    "Location",
    "Person",
    "RelatedPerson",
    "Group",
    "Coverage",
    "Composition",
    "Bundle",
    "MedicationAdministration",
    "MedicationDispense",
    "Specimen",
    "BodyStructure",
]
# (type, code) pairs of indexed types that are skipped on purpose: none today.
DELIBERATELY_SKIPPED: dict[tuple[str, str], str] = {}


def ts(*args: int) -> float:
    """POSIX seconds of a UTC wall-clock time."""
    return datetime(*args, tzinfo=UTC).timestamp()


def rows_of(rows: IndexRows, table: str, code: str | None = None) -> Counter:
    """The rows of one table (optionally of one code) as a multiset: extraction order is not a contract."""
    return Counter(r for r in getattr(rows, table) if code is None or r[0] == code)


def codes_in(rows: IndexRows) -> set[str]:
    return {r[0] for table in IndexRows.__slots__ for r in getattr(rows, table)}


# --- params ---------------------------------------------------------------------------------------


def test_search_params_are_restricted_to_their_base():
    params = search_params("Observation")
    patient = params["patient"]
    assert patient.type == "reference"
    assert patient.resource_type == "Observation"
    assert patient.expression == "Observation.subject.where(resolve() is Patient)"
    assert patient.targets == ("Patient", "Group")
    assert search_params("MedicationRequest")["code"].expression == (
        "(MedicationRequest.medication as CodeableConcept)"
    )


def test_common_params_come_from_meta_and_store_columns_are_left_out():
    params = search_params("Patient")
    assert {c: params[c].type for c in ("_tag", "_profile", "_security", "_source")} == {
        "_tag": "token",
        "_profile": "uri",
        "_security": "token",
        "_source": "uri",
    }
    handled_elsewhere = {"_id", "_lastUpdated", "_text", "_content", "_list", "_has", "_query", "_filter"}
    assert not handled_elsewhere & set(params)


def test_unknown_types_have_no_params_and_relative_paths_get_their_base():
    assert search_params("NoSuchType") == {}
    assert search_params("InsurancePlan")["name"].expression == "InsurancePlan.name | InsurancePlan.alias"
    types = resource_types_with_params()
    assert {"Patient", "Observation", "Bundle"} <= types
    assert not {"Resource", "DomainResource"} & types


def test_patient_compartment_params():
    assert patient_compartment_params("Observation") == ("subject", "performer")
    assert patient_compartment_params("Patient") == ("{def}",)
    assert patient_compartment_params("Organization") == ()


# --- compiling --------------------------------------------------------------------------------------


def test_every_indexed_param_of_the_core_types_compiles():
    compiled = skipped = 0
    problems = {}
    for rtype in CORE_TYPES:
        reasons = unsupported(rtype)
        for code, param in search_params(rtype).items():
            if code not in reasons:
                compiled += 1
            elif param.type in INDEXED_TYPES and (rtype, code) not in DELIBERATELY_SKIPPED:
                problems[f"{rtype}.{code}"] = reasons[code]
            else:
                skipped += 1
                assert param.type in ("composite", "special") or (rtype, code) in DELIBERATELY_SKIPPED
    assert problems == {}
    # Skipped, all composite or special: Observation's 8 composites, Questionnaire's 2 context-type-*,
    # DocumentReference.relationship, Group.characteristic-value and Location.near.
    assert (compiled, skipped) == (815, 13)


def test_the_parser_reads_the_subset_the_definitions_use():
    assert parse_fhirpath("Observation.subject.where(resolve() is Patient)") == (
        "call",
        ("path", ("name", "Observation"), "subject"),
        "where",
        (("is", ("call", None, "resolve", ()), "Patient"),),
    )
    assert parse_fhirpath("(Observation.value as Quantity) | Bundle.entry[0].resource")[0] == "union"
    assert parse_fhirpath("Patient.deceased.exists() and Patient.deceased != false") == (
        "and",
        ("call", ("path", ("name", "Patient"), "deceased"), "exists", ()),
        ("ne", ("path", ("name", "Patient"), "deceased"), ("lit", False)),
    )


# --- values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("Patient/123", ("Patient", "123")),
        ("http://host/fhir/Patient/123", ("Patient", "123")),
        ("Patient/123/_history/2", ("Patient", "123")),
        ("https://h.example.cn/fhir/Patient/123/_history/2", ("Patient", "123")),
        ("#med1", None),
        ("urn:uuid:4e1b7f0e-8d4a-4a3e-9b6e-2f1c6f1d1a11", None),
        ("123", None),
        ("patient/123", None),
    ],
)
def test_parse_reference(ref, expected):
    assert parse_reference(ref) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2023-05-01T08:30:00+08:00",
        "2023-05-01T08:30:00Z",
        "2023-05-01T08:30:00",
        "2023-05-01T08:30:00-05:30",
        "2023-05-01T08:30:00.250+08:00",
        "2024-02-29T23:59:59-00:00",
        "2020",
        "2020-05",
        "2020-05-01",
        "2023-05-01T08:30+08:00",
        "2023-13-01T08:30:00Z",
        "2023-05-01T25:30:00Z",
        "not a date",
    ],
)
def test_fast_date_path_agrees_with_the_general_parser(value):
    from yilian.store.search.dates import _parsed_range

    try:
        general = _parsed_range(value) if len(value) > 10 else date_range(value)
    except ValueError:
        general = None
    assert date_range(value) == general


def test_implicit_date_ranges():
    assert date_range("2020") == (ts(2020, 1, 1), ts(2021, 1, 1) - 1e-6)
    assert date_range("2020-02") == (ts(2020, 2, 1), ts(2020, 3, 1) - 1e-6)
    assert date_range("2020-02-29") == (ts(2020, 2, 29), ts(2020, 3, 1) - 1e-6)
    low = ts(2023, 5, 1, 0, 30)
    assert date_range("2023-05-01T08:30:00+08:00") == (low, low + SECOND)
    assert date_range("2023-05-01T08:30:00.5Z") == (ts(2023, 5, 1, 8, 30) + 0.5,) * 2


# --- resources ----------------------------------------------------------------------------------------


def test_observation_blood_pressure_systolic():
    rows = extract(
        {
            "resourceType": "Observation",
            "id": "bp1",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                            "display": "Vital Signs",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}],
                "text": "收缩压",
            },
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "effectiveDateTime": "2023-05-01T08:30:00+08:00",
            "performer": [{"reference": "Practitioner/d1"}],
            "valueQuantity": {"value": 120, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }
    )
    low = ts(2023, 5, 1, 0, 30)
    assert rows_of(rows, "dates") == Counter({("date", low, low + SECOND): 1})
    # The combo-* rows that would repeat code's and value-quantity's are not made (search/derived.py), nor
    # the subject row to a Patient, which is the patient row.
    assert rows_of(rows, "quantities") == Counter({("value-quantity", 120.0, UCUM, "mm[Hg]"): 1})
    assert rows_of(rows, "references") == Counter(
        {
            ("patient", "Patient", "p1"): 1,
            ("encounter", "Encounter", "e1"): 1,
            ("performer", "Practitioner", "d1"): 1,
        }
    )
    assert rows_of(rows, "tokens") == Counter(
        {
            ("status", None, "final"): 1,
            ("category", "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs"): 1,
            ("code", LOINC, "8480-6"): 1,
        }
    )
    assert rows_of(rows, "strings") == Counter(
        {
            ("category:text", "vital signs"): 1,
            ("code:text", "systolic blood pressure"): 1,
            ("code:text", "收缩压"): 1,
        }
    )
    assert rows.numbers == [] and rows.uris == []


def test_observation_choice_values_go_by_json_key():
    base = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    concept = extract(
        {
            **base,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "260385009"}], "text": "Négatif"},
        }
    )
    assert rows_of(concept, "tokens", "value-concept") == Counter({("value-concept", SNOMED, "260385009"): 1})
    assert rows_of(concept, "strings", "value-string") == Counter({("value-string", "negatif"): 1})
    text = extract({**base, "valueString": "Trace ÉLEVÉE"})
    assert rows_of(text, "strings", "value-string") == Counter({("value-string", "trace elevee"): 1})
    period = extract({**base, "effectivePeriod": {"start": "2023-01-01"}, "valueDateTime": "2023-01-02"})
    assert rows_of(period, "dates") == Counter(
        {
            ("date", ts(2023, 1, 1), MAX_TIME): 1,
            ("value-date", ts(2023, 1, 2), ts(2023, 1, 3) - 1e-6): 1,
        }
    )
    instant = extract({**base, "effectiveInstant": "2023-05-01T00:00:00.000Z"})
    assert rows_of(instant, "dates") == Counter({("date", ts(2023, 5, 1), ts(2023, 5, 1)): 1})


def test_observation_components():
    rows = extract(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                    "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                    "valueQuantity": {"value": 80.5, "system": UCUM, "code": "mm[Hg]"},
                },
            ],
        }
    )
    assert rows_of(rows, "tokens", "component-code") == Counter(
        {
            ("component-code", LOINC, "8480-6"): 1,
            ("component-code", LOINC, "8462-4"): 1,
        }
    )
    # combo-code is code | component.code; its rows from Observation.code would repeat `code`'s, which the
    # store leaves out (search/derived.py): extraction does not make them.
    assert rows_of(rows, "tokens", "combo-code") == Counter(
        {
            ("combo-code", LOINC, "8480-6"): 1,
            ("combo-code", LOINC, "8462-4"): 1,
        }
    )
    assert rows_of(rows, "quantities", "component-value-quantity") == Counter(
        {
            ("component-value-quantity", 120.0, UCUM, "mm[Hg]"): 1,
            ("component-value-quantity", 80.5, UCUM, "mm[Hg]"): 1,
        }
    )
    assert not rows_of(rows, "quantities", "value-quantity")


def test_patient_demographics():
    rows = extract(
        {
            "resourceType": "Patient",
            "id": "p1",
            "active": True,
            "gender": "female",
            "birthDate": "1990-03-07",
            "identifier": [{"system": "urn:oid:2.16.156.10011.1.1", "value": "110101199003071234"}],
            "name": [
                {"use": "official", "family": "张", "given": ["三"], "text": "张三"},
                {"family": "Núñez", "given": ["José", "María"], "prefix": ["Dr."]},
            ],
            "telecom": [
                {"system": "phone", "value": "+86 138 0000 0000", "use": "mobile"},
                {"system": "email", "value": "zhang@example.cn"},
            ],
            "address": [
                {"line": ["朝阳区建国路 1 号"], "city": "北京", "postalCode": "100020", "country": "CN"},
                {"city": "São Paulo", "state": "SP"},
            ],
            "generalPractitioner": [{"reference": "Practitioner/d1"}],
            "managingOrganization": {"reference": "Organization/o1"},
        }
    )
    assert rows_of(rows, "strings", "family") == Counter({("family", "张"): 1, ("family", "nunez"): 1})
    assert rows_of(rows, "strings", "given") == Counter(
        {
            ("given", "三"): 1,
            ("given", "jose"): 1,
            ("given", "maria"): 1,
        }
    )
    assert rows_of(rows, "strings", "name") == Counter(
        {
            ("name", "张"): 1,
            ("name", "三"): 1,
            ("name", "张三"): 1,
            ("name", "nunez"): 1,
            ("name", "jose"): 1,
            ("name", "maria"): 1,
            ("name", "dr."): 1,
        }
    )
    assert rows_of(rows, "strings", "address-city") == Counter(
        {
            ("address-city", "北京"): 1,
            ("address-city", "sao paulo"): 1,
        }
    )
    assert rows_of(rows, "strings", "address") == Counter(
        {
            ("address", "朝阳区建国路 1 号"): 1,
            ("address", "北京"): 1,
            ("address", "100020"): 1,
            ("address", "cn"): 1,
            ("address", "sao paulo"): 1,
            ("address", "sp"): 1,
        }
    )
    assert rows_of(rows, "dates") == Counter({("birthdate", ts(1990, 3, 7), ts(1990, 3, 8) - 1e-6): 1})
    tokens = rows_of(rows, "tokens")
    assert tokens["gender", None, "female"] == 1
    assert tokens["active", None, "true"] == 1
    assert tokens["identifier", "urn:oid:2.16.156.10011.1.1", "110101199003071234"] == 1
    assert rows_of(rows, "tokens", "phone") == Counter({("phone", None, "+86 138 0000 0000"): 1})
    assert rows_of(rows, "tokens", "email") == Counter({("email", None, "zhang@example.cn"): 1})
    assert rows_of(rows, "tokens", "telecom") == Counter(
        {
            ("telecom", None, "+86 138 0000 0000"): 1,
            ("telecom", None, "zhang@example.cn"): 1,
        }
    )
    assert rows_of(rows, "tokens", "deceased") == Counter({("deceased", None, "false"): 1})
    assert rows_of(rows, "references") == Counter(
        {
            ("general-practitioner", "Practitioner", "d1"): 1,
            ("organization", "Organization", "o1"): 1,
        }
    )
    assert compartment_patients({"resourceType": "Patient", "id": "p1"}, rows) == {"p1"}


@pytest.mark.parametrize(
    ("deceased", "token", "death_date"),
    [
        ({"deceasedBoolean": True}, "true", False),
        ({"deceasedBoolean": False}, "false", False),
        ({"deceasedDateTime": "2021-06"}, "true", True),
        ({}, "false", False),
    ],
)
def test_patient_deceased_is_a_boolean_token(deceased, token, death_date):
    rows = extract({"resourceType": "Patient", **deceased})
    assert rows_of(rows, "tokens", "deceased") == Counter({("deceased", None, token): 1})
    expected = {("death-date", ts(2021, 6, 1), ts(2021, 7, 1) - 1e-6): 1} if death_date else {}
    assert rows_of(rows, "dates") == Counter(expected)


def test_encounter():
    rows = extract(
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "type": [
                {
                    "coding": [{"system": SNOMED, "code": "185349003", "display": "Encounter for check up"}],
                    "text": "Encounter for check up",
                }
            ],
            "subject": {"reference": "Patient/p1"},
            "participant": [
                {
                    "type": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                    "code": "PPRF",
                                }
                            ]
                        }
                    ],
                    "individual": {"reference": "Practitioner/d1"},
                },
                {"individual": {"reference": "RelatedPerson/r1"}},
            ],
            "period": {"start": "2023-05-01T08:30:00+08:00", "end": "2023-05-01T09:00:00+08:00"},
            "serviceProvider": {"reference": "Organization/o1"},
        }
    )
    assert rows_of(rows, "tokens", "class") == Counter(
        {
            ("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"): 1,
        }
    )
    assert rows_of(rows, "tokens", "type") == Counter({("type", SNOMED, "185349003"): 1})
    assert rows_of(rows, "strings") == Counter(
        {  # the text repeats the display: one row
            ("class:text", "ambulatory"): 1,
            ("type:text", "encounter for check up"): 1,
        }
    )
    assert (
        rows_of(rows, "tokens", "participant-type")[
            "participant-type", "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF"
        ]
        == 1
    )
    assert rows_of(rows, "dates") == Counter(
        {
            ("date", ts(2023, 5, 1, 0, 30), ts(2023, 5, 1, 1, 0) + SECOND): 1,
        }
    )
    assert rows_of(rows, "references") == Counter(
        {
            ("patient", "Patient", "p1"): 1,
            ("participant", "Practitioner", "d1"): 1,
            ("participant", "RelatedPerson", "r1"): 1,
            ("practitioner", "Practitioner", "d1"): 1,
            ("service-provider", "Organization", "o1"): 1,
        }
    )
    assert compartment_patients({"resourceType": "Encounter"}, rows) == {"p1"}


def test_medication_request():
    rows = extract(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "314076", "display": "lisinopril 10 MG Oral Tablet"}]
            },
            "subject": {"reference": "https://fhir.example.cn/r4/Patient/p1/_history/3"},
            "authoredOn": "2023-05-01",
            "requester": {"reference": "Practitioner/d1"},
            "dosageInstruction": [{"timing": {"event": ["2023-05-02T08:00:00Z", "2023-05-03T08:00:00Z"]}}],
        }
    )
    assert rows_of(rows, "tokens", "code") == Counter({("code", RXNORM, "314076"): 1})
    assert rows_of(rows, "dates") == Counter(
        {
            ("authoredon", ts(2023, 5, 1), ts(2023, 5, 2) - 1e-6): 1,
            ("date", ts(2023, 5, 2, 8), ts(2023, 5, 2, 8) + SECOND): 1,
            ("date", ts(2023, 5, 3, 8), ts(2023, 5, 3, 8) + SECOND): 1,
        }
    )
    assert rows_of(rows, "references") == Counter(
        {
            ("patient", "Patient", "p1"): 1,
            ("requester", "Practitioner", "d1"): 1,
        }
    )
    by_reference = extract(
        {"resourceType": "MedicationRequest", "medicationReference": {"reference": "Medication/m1"}}
    )
    assert rows_of(by_reference, "references") == Counter({("medication", "Medication", "m1"): 1})
    assert not by_reference.tokens


def test_condition_onset_forms():
    base = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SNOMED, "code": "44054006", "display": "Diabetes"}]},
    }
    rows = extract({**base, "onsetDateTime": "2020", "recordedDate": "2020-06-01T10:00:00Z"})
    assert rows_of(rows, "tokens", "code") == Counter({("code", SNOMED, "44054006"): 1})
    assert rows_of(rows, "dates") == Counter(
        {
            ("onset-date", ts(2020, 1, 1), ts(2020, 12, 31, 23, 59, 59) + 0.999999): 1,
            ("recorded-date", ts(2020, 6, 1, 10), ts(2020, 6, 1, 10) + SECOND): 1,
        }
    )
    assert rows_of(rows, "references") == Counter(
        {
            ("patient", "Patient", "p1"): 1,
        }
    )
    period = extract({**base, "onsetPeriod": {"end": "2021-03-04"}})
    assert rows_of(period, "dates") == Counter({("onset-date", MIN_TIME, ts(2021, 3, 5) - 1e-6): 1})
    age = extract(
        {
            **base,
            "onsetAge": {"value": 45, "unit": "yr", "system": UCUM, "code": "a"},
            "abatementString": "Remission",
        }
    )
    assert rows_of(age, "quantities") == Counter({("onset-age", 45.0, UCUM, "a"): 1})
    assert rows_of(age, "strings", "abatement-string") == Counter({("abatement-string", "remission"): 1})
    assert not age.dates


def test_patient_filter_drops_group_subjects():
    rows = extract(
        {
            "resourceType": "Observation",
            "subject": {"reference": "Group/g1"},
            "performer": [{"reference": "Patient/p2"}],
        }
    )
    assert rows_of(rows, "references") == Counter(
        {
            ("subject", "Group", "g1"): 1,
            ("performer", "Patient", "p2"): 1,
        }
    )
    assert compartment_patients({"resourceType": "Observation"}, rows) == {"p2"}


def test_references_that_the_caller_must_resolve_are_skipped():
    rows = extract(
        {
            "resourceType": "Observation",
            "subject": {"reference": "urn:uuid:9a1e5b5e-0c1d-4a1e-8f00-1b2c3d4e5f60"},
            "performer": [{"reference": "#pr1"}, {"display": "Dr Li"}],
            "encounter": {"reference": "http://h.example.cn/fhir/Encounter/e9"},
        }
    )
    assert rows_of(rows, "references") == Counter({("encounter", "Encounter", "e9"): 1})


def test_compartment_params_decide():
    obs = {
        "resourceType": "Observation",
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Patient/p2"}, {"reference": "Practitioner/d1"}],
    }
    assert compartment_patients(obs, extract(obs)) == {"p1", "p2"}
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": "Patient/p3"}],
        "agent": [{"who": {"reference": "Patient/p4"}}],
        "recorded": "2023-05-01T00:00:00Z",
    }
    rows = extract(provenance)
    assert rows_of(rows, "references", "agent") == Counter({("agent", "Patient", "p4"): 1})
    assert compartment_patients(provenance, rows) == {"p3"}  # Provenance's compartment param is patient
    org = {"resourceType": "Organization", "partOf": {"reference": "Organization/o1"}}
    assert compartment_patients(org, extract(org)) == set()


def test_meta_params():
    rows = extract(
        {
            "resourceType": "Condition",
            "meta": {
                "tag": [{"system": "urn:yilian:member", "code": "hospital-a"}],
                "security": [{"system": CONFIDENTIALITY, "code": "R"}],
                "profile": ["http://hl7.org/fhir/StructureDefinition/Condition"],
                "source": "http://hospital-a.example.cn/his",
            },
        }
    )
    assert rows_of(rows, "tokens") == Counter(
        {
            ("_tag", "urn:yilian:member", "hospital-a"): 1,
            ("_security", CONFIDENTIALITY, "R"): 1,
        }
    )
    assert rows_of(rows, "uris") == Counter(
        {
            ("_profile", "http://hl7.org/fhir/StructureDefinition/Condition"): 1,
            ("_source", "http://hospital-a.example.cn/his"): 1,
        }
    )


def test_where_filters_and_nested_resources():
    person = extract(
        {
            "resourceType": "Person",
            "link": [{"target": {"reference": "Patient/p1"}}, {"target": {"reference": "Practitioner/d1"}}],
        }
    )
    assert rows_of(person, "references", "patient") == Counter({("patient", "Patient", "p1"): 1})
    assert rows_of(person, "references", "practitioner") == Counter(
        {
            ("practitioner", "Practitioner", "d1"): 1,
        }
    )
    bundle = extract(
        {
            "resourceType": "Bundle",
            "type": "document",
            "timestamp": "2023-05-01T08:30:00+08:00",
            "entry": [
                {"resource": {"resourceType": "Composition", "id": "c1"}},
                {"resource": {"resourceType": "Patient", "id": "p1"}},
            ],
        }
    )
    assert rows_of(bundle, "references") == Counter(
        {
            ("composition", "Composition", "c1"): 1,
            ("message", "Composition", "c1"): 1,
        }
    )
    assert rows_of(bundle, "tokens", "type") == Counter({("type", None, "document"): 1})
    audit = extract(
        {
            "resourceType": "AuditEvent",
            "agent": [{"who": {"reference": "Practitioner/d1"}, "requestor": True}],
            "entity": [{"what": {"reference": "Patient/p1"}}, {"what": {"reference": "Observation/o1"}}],
        }
    )
    assert rows_of(audit, "references", "patient") == Counter({("patient", "Patient", "p1"): 1})


def test_timing_money_range_number_and_uri():
    careplan = extract(
        {
            "resourceType": "CarePlan",
            "activity": [
                {
                    "detail": {
                        "scheduledTiming": {"event": ["2023-06-01"]},
                        "code": {"coding": [{"system": SNOMED, "code": "229065009"}]},
                    }
                }
            ],
        }
    )
    assert rows_of(careplan, "dates") == Counter(
        {
            ("activity-date", ts(2023, 6, 1), ts(2023, 6, 2) - 1e-6): 1,
        }
    )
    invoice = extract({"resourceType": "Invoice", "totalGross": {"value": 99.5, "currency": "CNY"}})
    assert rows_of(invoice, "quantities") == Counter({("totalgross", 99.5, None, "CNY"): 1})
    age_range = {"low": {"value": 18, "code": "a"}, "high": {"value": 65, "code": "a"}}
    questionnaire = extract(
        {
            "resourceType": "Questionnaire",
            "url": "http://example.cn/Questionnaire/phq9",
            "title": "PHQ-9 抑郁筛查",
            "useContext": [{"code": {"code": "age"}, "valueRange": age_range}],
        }
    )
    assert rows_of(questionnaire, "uris") == Counter({("url", "http://example.cn/Questionnaire/phq9"): 1})
    assert rows_of(questionnaire, "strings", "title") == Counter({("title", "phq-9 抑郁筛查"): 1})
    assert rows_of(questionnaire, "quantities") == Counter(
        {
            ("context-quantity", 18.0, None, "a"): 1,
            ("context-quantity", 65.0, None, "a"): 1,
        }
    )
    risk = extract(
        {
            "resourceType": "RiskAssessment",
            "prediction": [{"probabilityDecimal": 0.25}, {"probabilityRange": {"low": {"value": 1}}}],
        }
    )
    assert rows_of(risk, "numbers") == Counter({("probability", 0.25): 1})


def test_unknown_and_malformed_resources_give_no_rows():
    assert codes_in(extract({"resourceType": "NoSuchType", "code": {"text": "x"}})) == set()
    rows = extract(
        {
            "resourceType": "Observation",
            "code": "not a concept",
            "subject": ["Patient/p1"],
            "effectiveDateTime": "yesterday",
            "valueQuantity": {"value": "120"},
        }
    )
    assert codes_in(rows) == set()


# --- shared data ------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_synthea_bundles_extract_and_every_observation_has_a_patient():
    if not SYNTHEA_TGZ.exists():
        pytest.skip(f"needs {SYNTHEA_TGZ} (the shared Synthea R4 set), which is not present on this machine")
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        from extract_speed import load_resources  # the bench's urn:uuid resolution, the server's rule
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    resources = load_resources(SYNTHEA_TGZ, bundles=5)
    assert len({r["resourceType"] for r in resources}) >= 10
    observations = 0
    for resource in resources:
        rows = extract(resource)
        if resource["resourceType"] == "Observation":
            observations += 1
            assert any(code == "patient" and ttype == "Patient" for code, ttype, _ in rows.references)
            assert compartment_patients(resource, rows)
    assert observations > 100


def test_bench_loader_resolves_urn_uuid_references():
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        from extract_speed import resolve_urn_uuids
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    bundle = {
        "entry": [
            {"fullUrl": "urn:uuid:aaa", "resource": {"resourceType": "Patient", "id": "aaa"}},
            {
                "fullUrl": "urn:uuid:bbb",
                "resource": {
                    "resourceType": "Observation",
                    "subject": {"reference": "urn:uuid:aaa"},
                    "hasMember": [{"reference": "urn:uuid:bbb"}],
                },
            },
        ]
    }
    resources = resolve_urn_uuids(bundle)
    assert resources[1]["subject"] == {"reference": "Patient/aaa"}
    assert resources[1]["hasMember"] == [{"reference": "Observation/bbb"}]


def test_repeated_codes_and_references_are_one_object():
    """Plans travel pickled from loader workers: equal values that are one object are pickled once."""
    text = (
        b'{"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/p-1"},'
        b' "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}}'
    )
    one, two = extract(orjson.loads(text)), extract(orjson.loads(text))  # parsed anew: new strings
    [(_, system_1, code_1)] = [t for t in one.tokens if t[0] == "code"]
    [(_, system_2, code_2)] = [t for t in two.tokens if t[0] == "code"]
    assert system_1 is system_2 and code_1 is code_2
    [patient_1] = [r[1:] for r in one.references if r[0] == "patient"]
    [patient_2] = [r[1:] for r in two.references if r[0] == "patient"]
    assert patient_1 == ("Patient", "p-1") and patient_1[1] is patient_2[1]

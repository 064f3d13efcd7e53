"""Tests of the structural FHIR R4 validator (yilian.fhir.validation)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from yilian.fhir.validation import Issue, is_known_resource_type, resource_types, validate

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED = REPO_ROOT / ".." / "shared" / "data"
EXAMPLES_TGZ = SHARED / "fhir-r4-spec" / "examples-r4-clinical-711.tar.gz"
SYNTHEA_TGZ = SHARED / "synthea-r4" / "set-a-100-patients.tar.gz"

# Official R4 examples that break the R4 definitions themselves; the validator is right about them.
KNOWN_INVALID_EXAMPLES = {
    # 'display' items (nested through the contentReference Questionnaire.item.item) have no linkId,
    # which Questionnaire.item.linkId requires (min 1).
    "Questionnaire-qs1.json": "missing required element 'linkId'",
}


def patient() -> dict:
    return {
        "resourceType": "Patient",
        "id": "zhang-san-1",
        "meta": {
            "versionId": "1",
            "lastUpdated": "2024-05-01T08:30:00.000+08:00",
            "profile": ["http://hl7.org/fhir/StructureDefinition/Patient"],
        },
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">张三</div>'},
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-nationality",
                "extension": [{"url": "code", "valueCodeableConcept": {"text": "中国"}}],
            }
        ],
        "identifier": [
            {
                "use": "official",
                "system": "urn:oid:2.16.156.10011.1.1",
                "value": "110101199003071234",
                "period": {"start": "2008-03-01"},
            }
        ],
        "active": True,
        "name": [
            {"use": "official", "text": "张三", "family": "张", "given": ["三"]},
            {
                "use": "usual",
                "family": "Zhang",
                "given": ["San", None],
                "_given": [
                    None,
                    {"extension": [{"url": "http://example.org/romanised", "valueBoolean": True}]},
                ],
            },
        ],
        "telecom": [{"system": "phone", "value": "+86 10 1234 5678", "use": "mobile", "rank": 1}],
        "gender": "male",
        "birthDate": "1990-03-07",
        "_birthDate": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": "1990-03-07T06:15:00+08:00",
                }
            ]
        },
        "deceasedBoolean": False,
        "address": [{"line": ["朝阳区建国路 1 号"], "city": "北京", "country": "CN"}],
        "contact": [
            {
                "relationship": [
                    {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}]}
                ],
                "name": {"text": "李四"},
                "gender": "female",
            }
        ],
        "managingOrganization": {"reference": "Organization/hospital-1", "display": "北京协和医院"},
        "fhir_comments": ["ignored, as in DSTU2-era JSON"],
    }


def observation() -> dict:
    return {
        "resourceType": "Observation",
        "id": "bp-1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]
        },
        "subject": {"reference": "Patient/zhang-san-1"},
        "effectiveDateTime": "2024-05-01T09:00:00+08:00",
        "issued": "2024-05-01T09:05:12.250Z",
        "valueQuantity": {
            "value": 72,
            "unit": "beats/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
        "referenceRange": [{"low": {"value": 60.0}, "high": {"value": 100}, "text": "60-100"}],
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {
                    "value": 120.5,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {
                    "value": 80,
                    "unit": "mmHg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
                "interpretation": [{"text": "normal"}],
            },
        ],
    }


def transaction() -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:8c1c2a6e-5b7a-4b8e-9b3e-0a1b2c3d4e5f",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c",
                "resource": observation(),
                "request": {"method": "PUT", "url": "Observation/bp-1", "ifMatch": 'W/"1"'},
            },
            {"request": {"method": "DELETE", "url": "Observation?code=http://loinc.org|1234-5"}},
        ],
    }


def paths(issues: list[Issue]) -> list[str]:
    return [i.path for i in issues]


def only_issue(resource: dict) -> Issue:
    issues = validate(resource)
    assert len(issues) == 1, issues
    return issues[0]


# --- valid resources -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [patient, observation, transaction])
def test_realistic_resources_are_valid(make):
    assert validate(make()) == []


def test_parameters_with_a_nested_resource_and_parts_is_valid():
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient()},
            {
                "name": "options",
                "part": [
                    {"name": "count", "valueInteger": 10},
                    {"name": "nested", "part": [{"name": "flag", "valueBoolean": True}]},
                ],
            },
        ],
    }
    assert validate(params) == []


def test_primitive_extension_satisfies_a_required_element():
    obs = observation()
    del obs["status"]
    obs["_status"] = {
        "extension": [
            {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}
        ]
    }
    assert validate(obs) == []


@pytest.mark.parametrize("day", ["2020-02-29", "2024-12-31", "2023", "2023-07"])
def test_real_and_partial_dates_are_valid(day):
    assert validate({"resourceType": "Patient", "birthDate": day}) == []


# --- each kind of failure, at the right path -----------------------------------------------------


def test_unknown_element():
    p = patient()
    p["name"][0]["nickname"] = "小三"
    issue = only_issue(p)
    assert issue == Issue("Patient.name[0].nickname", "unknown element 'nickname'", "structure")


def test_underscore_sibling_of_a_complex_element_is_unknown():
    p = patient()
    p["_name"] = [{"extension": []}]
    assert only_issue(p).path == "Patient._name"


def test_array_expected():
    p = patient()
    p["name"] = {"family": "张"}
    assert only_issue(p) == Issue("Patient.name", "expected a JSON array", "structure")


def test_single_value_expected():
    p = patient()
    p["gender"] = ["male"]
    issue = only_issue(p)
    assert (issue.path, issue.code) == ("Patient.gender", "structure")
    assert "array" in issue.message


def test_object_expected_for_a_complex_element():
    p = patient()
    p["managingOrganization"] = "Organization/1"
    issue = only_issue(p)
    assert (issue.path, issue.code) == ("Patient.managingOrganization", "structure")
    assert "expected a JSON object" in issue.message


def test_empty_array_is_not_allowed():
    p = patient()
    p["telecom"] = []
    assert only_issue(p).path == "Patient.telecom"


def test_missing_required_observation_status_and_code():
    obs = observation()
    del obs["status"], obs["code"]
    issues = validate(obs)
    assert [(i.path, i.message, i.code) for i in issues] == [
        ("Observation", "missing required element 'status'", "required"),
        ("Observation", "missing required element 'code'", "required"),
    ]


def test_missing_required_in_a_backbone_element():
    obs = observation()
    del obs["component"][1]["code"]
    assert only_issue(obs) == Issue("Observation.component[1]", "missing required element 'code'", "required")


def test_required_only_checked_when_the_parent_is_present():
    # Patient.link.other is required, but there is no link at all.
    assert validate({"resourceType": "Patient"}) == []


@pytest.mark.parametrize("bad", ["2020-13-45", "2020-13-01", "2019-02-29", "2020-04-31", "20200101", "0000"])
def test_bad_date(bad):
    p = patient()
    p["birthDate"] = bad
    assert only_issue(p) == Issue("Patient.birthDate", f"'{bad}' is not a valid date", "value")


def test_bad_datetime_and_instant():
    obs = observation()
    obs["effectiveDateTime"] = "2024-05-01T09:00:00"  # a time needs a zone
    obs["issued"] = "2024-05-01"  # an instant needs a time
    assert paths(validate(obs)) == ["Observation.effectiveDateTime", "Observation.issued"]


def test_bad_boolean():
    p = patient()
    p["active"] = "yes"
    assert only_issue(p) == Issue("Patient.active", "'yes' is not a valid boolean", "value")


@pytest.mark.parametrize(
    "field, bad",
    [
        ("rank", 0),
        ("rank", -1),
        ("rank", 1.5),
        ("rank", "1"),
        ("rank", True),
        ("rank", 2**31),
    ],
)
def test_bad_positive_int(field, bad):
    p = patient()
    p["telecom"][0][field] = bad
    issue = only_issue(p)
    assert (issue.path, issue.code) == (f"Patient.telecom[0].{field}", "value")


@pytest.mark.parametrize("bad", ["72", True, float("nan"), None])
def test_decimal_must_be_a_json_number(bad):
    obs = observation()
    obs["valueQuantity"]["value"] = bad
    assert only_issue(obs).path == "Observation.valueQuantity.value"


def test_two_choices_of_one_element():
    obs = observation()
    obs["valueString"] = "72 bpm"
    issue = only_issue(obs)
    assert issue.path == "Observation.valueString"
    assert "value[x]" in issue.message and "valueQuantity" in issue.message


def test_choice_suffix_not_allowed_for_the_element():
    obs = observation()
    obs["effectiveAge"] = {"value": 3}  # effective[x] is dateTime|Period|Timing|instant
    assert only_issue(obs) == Issue("Observation.effectiveAge", "unknown element 'effectiveAge'", "structure")


def test_extension_needs_url_and_one_value():
    p = patient()
    p["extension"] = [{"valueString": "a", "valueCode": "b"}]
    issues = validate(p)
    assert {(i.path, i.code) for i in issues} == {
        ("Patient.extension[0].valueCode", "structure"),
        ("Patient.extension[0]", "required"),
    }


def test_bad_id_with_a_space():
    p = patient()
    p["id"] = "zhang san"
    assert only_issue(p) == Issue("Patient.id", "'zhang san' is not a valid id", "value")


@pytest.mark.parametrize("field, bad", [("language", " zh"), ("gender", "ma  le"), ("language", "")])
def test_bad_code(field, bad):
    p = patient()
    p[field] = bad
    assert only_issue(p).path == f"Patient.{field}"


def test_bad_uri_oid_and_uuid():
    p = patient()
    p["identifier"][0]["system"] = "urn:oid:2.16 .156"
    p["implicitRules"] = "http://example.org/rules with spaces"
    p["extension"].append({"url": "http://example.org/oid", "valueOid": "2.16.156"})
    p["extension"].append(
        {
            "url": "http://example.org/uuid",  # upper case is not allowed
            "valueUuid": "urn:uuid:8C1C2A6E-5B7A-4B8E-9B3E-0A1B2C3D4E5F",
        }
    )
    assert set(paths(validate(p))) == {
        "Patient.implicitRules",
        "Patient.identifier[0].system",
        "Patient.extension[1].valueOid",
        "Patient.extension[2].valueUuid",
    }


def test_bad_base64():
    doc = {"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8=x"}
    assert only_issue(doc).path == "Binary.data"
    doc["data"] = "aGVs\nbG8="
    assert validate(doc) == []


def test_null_in_a_primitive_array_needs_the_underscore_sibling():
    p = patient()
    del p["name"][1]["_given"]
    issues = validate(p)
    assert paths(issues) == ["Patient.name[1].given[1]"]


def test_unknown_resource_type():
    issue = only_issue({"resourceType": "Patientt", "id": "1"})
    assert issue == Issue("resourceType", "unknown resourceType 'Patientt'", "invalid")


@pytest.mark.parametrize("bad", [{"id": "1"}, {"resourceType": "DomainResource"}, ["Patient"], "Patient"])
def test_not_a_resource(bad):
    issue = only_issue(bad)
    assert issue.code == "invalid"


def test_nested_errors_inside_bundle_entries():
    bundle = transaction()
    bundle["entry"][0]["resource"]["name"][0]["given"] = "三"
    bundle["entry"][1]["resource"]["status"] = "final "
    bundle["entry"][2]["request"]["method"] = "POST"
    del bundle["entry"][2]["request"]["url"]
    bundle["entry"].append({"resource": {"resourceType": "Foo"}})
    assert [(i.path, i.code) for i in validate(bundle)] == [
        ("Bundle.entry[0].resource.name[0].given", "structure"),
        ("Bundle.entry[1].resource.status", "value"),
        ("Bundle.entry[2].request", "required"),
        ("Bundle.entry[3].resource.resourceType", "invalid"),
    ]


def test_bundle_entry_resource_must_be_a_single_object():
    bundle = transaction()
    bundle["entry"][0]["resource"] = [patient()]
    assert paths(validate(bundle)) == ["Bundle.entry[0].resource"]


def test_nested_errors_inside_contained():
    obs = observation()
    bad = patient()
    bad["birthDate"] = "1990-02-30"
    obs["contained"] = [{"resourceType": "Organization", "id": "lab", "name": "检验科"}, bad]
    assert only_issue(obs).path == "Observation.contained[1].birthDate"


def test_content_reference_recursion():
    q = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [
            {
                "linkId": "1",
                "type": "group",
                "item": [{"linkId": "1.1", "type": "string", "item": [{"type": "display", "text": "?"}]}],
            }
        ],
    }
    assert only_issue(q) == Issue(
        "Questionnaire.item[0].item[0].item[0]", "missing required element 'linkId'", "required"
    )


def test_parameters_resource_is_validated_as_its_own_type():
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "r", "resource": {"resourceType": "Observation"}}],
    }
    assert paths(validate(params)) == ["Parameters.parameter[0].resource"] * 2


def test_hostile_nesting_is_an_issue_not_a_crash():
    ref: dict = {"display": "x"}
    for _ in range(5000):
        ref = {"identifier": {"assigner": ref}}
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": ref}
    issue = only_issue(obs)
    assert issue.code == "invalid" and "nested too deeply" in issue.message


def test_a_value_json_has_no_type_for_is_an_issue_not_a_crash():
    """A feed's mapper could put bytes or a set where a value belongs: the message shows it as Python
    would (JSON cannot)."""
    for value, shown in ((b"x", "b'x'"), ({1}, "{1}")):
        issue = only_issue({"resourceType": "Observation", "status": value, "code": {"text": "x"}})
        assert issue.path == "Observation.status" and shown in issue.message


def test_input_is_not_modified():
    bundle = transaction()
    before = copy.deepcopy(bundle)
    validate(bundle)
    assert bundle == before


# --- API -----------------------------------------------------------------------------------------


def test_resource_types():
    names = resource_types()
    assert isinstance(names, frozenset) and len(names) == 146
    assert {"Patient", "Observation", "Bundle", "ExplanationOfBenefit", "Parameters"} <= names
    assert is_known_resource_type("Patient")
    assert not is_known_resource_type("Resource") and not is_known_resource_type("DomainResource")
    assert not is_known_resource_type("HumanName")


def test_issue_defaults_to_structure():
    assert Issue("Patient.x", "unknown element 'x'").code == "structure"


def test_definitions_are_not_loaded_at_import():
    code = (
        "import yilian.fhir.validation as v; print(v._compiled.cache_info().currsize); "
        "v.is_known_resource_type('Patient'); print(v._compiled.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "1"]


# --- the official examples and Synthea, when ../shared/data is there -----------------------------


def _tar_json(path: Path, limit: int | None = None):
    """Yield (member name, parsed JSON) for the .json members of a tarball, in name order."""
    with tarfile.open(path, "r:gz") as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")), key=lambda m: m.name
        )
        for m in members[:limit]:
            yield Path(m.name).name, json.load(tar.extractfile(m))


@pytest.mark.shared_data
@pytest.mark.skipif(not EXAMPLES_TGZ.exists(), reason=f"official R4 examples not found at {EXAMPLES_TGZ}")
def test_official_r4_examples_validate():
    failures, count = {}, 0
    for name, resource in _tar_json(EXAMPLES_TGZ):
        if name == "package.json":
            continue
        count += 1
        issues = validate(resource)
        if issues:
            failures[name] = issues
    assert count == 711
    assert sorted(failures) == sorted(KNOWN_INVALID_EXAMPLES), {k: v[:3] for k, v in failures.items()}
    for name, message in KNOWN_INVALID_EXAMPLES.items():
        assert {i.message for i in failures[name]} == {message}


@pytest.mark.shared_data
@pytest.mark.skipif(not SYNTHEA_TGZ.exists(), reason=f"Synthea R4 bundles not found at {SYNTHEA_TGZ}")
def test_synthea_bundles_validate():
    count = 0
    for name, bundle in _tar_json(SYNTHEA_TGZ, limit=10):
        assert validate(bundle) == [], name  # the whole transaction Bundle
        for entry in bundle["entry"]:
            assert validate(entry["resource"]) == [], (name, entry["fullUrl"])
            count += 1
    assert count > 1000

"""PIXm cross-references, $match and the demographic $pdq search, each within the caller's gate."""

from __future__ import annotations

import pytest

from yilian.alliance.codes import RESIDENT_ID
from yilian.fhir.outcomes import FhirError
from yilian.identity.testing import patient, resident_id
from yilian.testing.plugin import caller

A, B = caller("member-system", "m-a"), caller("member-system", "m-b")
RID = resident_id("330108", "1960-03-08", 137)
MRN_A = "urn:oid:2.16.156.10011.1.2.1"


@pytest.fixture
def registered(fhir):
    a = fhir.as_(A).post("Patient", patient(rid=RID, mrn="A1", member_no=1)).resource()["id"]
    b = fhir.as_(B).post("Patient", patient(rid=RID, mrn="B7", member_no=2)).resource()["id"]
    other = (
        fhir.as_(B)
        .post(
            "Patient",
            patient(
                "赵丽",
                sex="female",
                birth="1990-01-01",
                phone="13600000000",
                address="长河路9号",
                mrn="B8",
                member_no=2,
            ),
        )
        .resource()["id"]
    )
    return a, b, other


def test_pix_gives_the_identifiers_at_other_members(fhir, registered):
    a, b, _ = registered
    out = fhir.get(f"Patient/$ihe-pix?sourceIdentifier={MRN_A}|A1").resource()
    idents = [p["valueIdentifier"] for p in out["parameter"] if p["name"] == "targetIdentifier"]
    ids = {p["valueReference"]["reference"] for p in out["parameter"] if p["name"] == "targetId"}
    assert {"system": "urn:oid:2.16.156.10011.1.2.2", "value": "B7", "use": "official"} not in idents
    assert {"system": "urn:oid:2.16.156.10011.1.2.2", "value": "B7"} in [
        {k: v for k, v in i.items() if k != "use"} for i in idents
    ]
    assert ids == {f"Patient/{a}", f"Patient/{b}"}
    assert any(p["name"] == "person" for p in out["parameter"])
    only = fhir.get(f"Patient/$ihe-pix?sourceIdentifier={MRN_A}|A1&targetSystem={RESIDENT_ID}").resource()
    assert {p["valueIdentifier"]["value"] for p in only["parameter"] if p["name"] == "targetIdentifier"} == {
        RID
    }


def test_pix_only_shows_what_the_caller_may_see(fhir, registered):
    out = fhir.as_(A).get(f"Patient/$ihe-pix?sourceIdentifier={MRN_A}|A1").resource()
    assert all(p.get("valueIdentifier", {}).get("value") != "B7" for p in out["parameter"])
    with pytest.raises(FhirError) as err:
        fhir.as_(A).get("Patient/$ihe-pix?sourceIdentifier=urn:oid:2.16.156.10011.1.2.2|B7")
    assert err.value.status == 404


def test_match_returns_scored_patients_with_a_grade(fhir, registered):
    a, b, other = registered
    query = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient(name=None, pinyin="Zhang Jianguo", rid=None)},
            {"name": "count", "valueInteger": 5},
        ],
    }
    bundle = fhir.post("Patient/$match", query).resource()
    assert bundle["type"] == "searchset"
    found = {e["resource"]["id"]: e["search"] for e in bundle["entry"]}
    assert set(found) == {a, b}
    for search in found.values():
        assert search["mode"] == "match" and 0 < search["score"] <= 1
        assert search["extension"][0]["url"] == "http://hl7.org/fhir/StructureDefinition/match-grade"
        assert search["extension"][0]["valueCode"] == "certain"


def test_match_only_certain_and_visibility(fhir, registered):
    a, _b, _ = registered
    query = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": patient(rid=RID, phone=None, address=None)},
            {"name": "onlyCertainMatches", "valueBoolean": True},
        ],
    }
    bundle = fhir.as_(A).post("Patient/$match", query).resource()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [a]  # B's record is not A's to see
    query["parameter"][0]["resource"] = patient(rid=None, phone=None, address=None)
    probable = fhir.post("Patient/$match", query).resource()  # name, birth date and sex alone: not certain
    assert probable["entry"] == []


def test_the_golden_person_shows_only_what_the_caller_may_see(fhir, registered):
    a, b, _ = registered
    everyone = fhir.get(f"Patient/{a}/$person").resource()
    assert everyone["resourceType"] == "Person" and len(everyone["link"]) == 2
    mine = fhir.as_(A).get(f"Patient/{a}/$person").resource()
    assert [link["target"]["reference"] for link in mine["link"]] == [f"Patient/{a}"]
    assert all(i["value"] != "B7" for i in mine["identifier"])
    with pytest.raises(FhirError) as err:
        fhir.as_(A).get(f"Patient/{b}/$person")
    assert err.value.status == 404


def test_pdq_sees_through_pinyin_and_order(fhir, registered):
    a, b, _ = registered
    bundle = fhir.get("Patient/$pdq?name=Jianguo%20Zhang&birthdate=1960-03-08").resource()
    assert {e["resource"]["id"] for e in bundle["entry"]} == {a, b}
    with pytest.raises(FhirError):
        fhir.get("Patient/$pdq")

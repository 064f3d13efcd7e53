"""Transaction and batch Bundles, and Patient/$everything."""

from __future__ import annotations

import pytest

from yilian.fhir.outcomes import FhirError


def tx(*entries, kind="transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(full_url, resource, **request) -> dict:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


ORG = {
    "resourceType": "Organization",
    "identifier": [{"system": "urn:uscc", "value": "12330100"}],
    "name": "滨江市第一人民医院",
}


def patient_bundle(suffix: str) -> dict:
    return tx(
        post("urn:uuid:org", ORG, ifNoneExist="identifier=urn:uscc|12330100"),
        post(
            f"urn:uuid:p{suffix}",
            {
                "resourceType": "Patient",
                "name": [{"family": "赵", "given": [suffix]}],
                "managingOrganization": {"reference": "urn:uuid:org"},
            },
        ),
        post(
            f"urn:uuid:e{suffix}",
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": f"urn:uuid:p{suffix}"},
                "serviceProvider": {"reference": "urn:uuid:org"},
            },
        ),
        post(
            f"urn:uuid:o{suffix}",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"urn:uuid:p{suffix}"},
                "encounter": {"reference": f"urn:uuid:e{suffix}"},
                "valueQuantity": {"value": 72, "unit": "/min"},
            },
        ),
    )


def test_transaction_resolves_urn_uuid_and_if_none_exist(fhir):
    first = fhir.post("", patient_bundle("a")).resource()
    assert first["type"] == "transaction-response"
    assert [e["response"]["status"] for e in first["entry"]] == ["201 Created"] * 4
    fhir.post("", patient_bundle("b"))
    assert fhir.get("Organization").resource()["total"] == 1  # ifNoneExist kept it single
    obs = fhir.get("Observation?code=8867-4&_include=Observation:encounter").resource()
    for e in obs["entry"]:
        if e["resource"]["resourceType"] == "Observation":
            assert e["resource"]["subject"]["reference"].startswith("Patient/")
            assert not e["resource"]["encounter"]["reference"].startswith("urn:")
    assert len(obs["entry"]) == 4


def test_a_failing_transaction_writes_nothing(fhir):
    bundle = patient_bundle("c")
    bundle["entry"][3]["resource"]["status"] = "not-a-status!"
    bundle["entry"][2]["resource"]["period"] = {"start": "2024-02-30"}
    with pytest.raises(FhirError) as err:
        fhir.post("", bundle)
    assert err.value.status == 400
    locations = {p.location for p in err.value.problems}
    assert "Bundle.entry[2].resource.period.start" in locations
    assert fhir.get("Patient").resource()["total"] == 0
    assert fhir.get("Organization").resource()["total"] == 0


def test_unresolvable_urn_reference_is_rejected(fhir):
    bundle = tx(
        post(
            "urn:uuid:x",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "urn:uuid:nowhere"},
            },
        )
    )
    with pytest.raises(FhirError) as err:
        fhir.post("", bundle)
    assert "urn:uuid:nowhere" in str(err.value)


def test_transaction_put_delete_and_get(fhir):
    fhir.put("Patient/keep", {"resourceType": "Patient", "id": "keep", "gender": "male"})
    fhir.put("Patient/drop", {"resourceType": "Patient", "id": "drop"})
    result = fhir.post(
        "",
        tx(
            {
                "resource": {"resourceType": "Patient", "id": "keep", "gender": "female"},
                "request": {"method": "PUT", "url": "Patient/keep"},
            },
            {"request": {"method": "DELETE", "url": "Patient/drop"}},
            {"request": {"method": "GET", "url": "Patient?gender=female"}},
        ),
    ).resource()
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses[0].startswith("200") and statuses[1].startswith("204")
    assert result["entry"][2]["resource"]["total"] == 1


def test_batch_reports_each_entry_on_its_own(fhir):
    result = fhir.post(
        "",
        tx(
            {
                "resource": {"resourceType": "Patient", "gender": "male"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Patient", "birthDate": "1990-02-30"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "GET", "url": "Patient/none"}},
            kind="batch",
        ),
    ).resource()
    assert [e["response"]["status"] for e in result["entry"]] == ["201", "400", "404"]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert fhir.get("Patient").resource()["total"] == 1


def test_everything_returns_the_compartment_and_what_it_references(fhir):
    fhir.post("", patient_bundle("a"))
    fhir.post("", patient_bundle("b"))
    pid = fhir.get("Patient?given=a").resource()["entry"][0]["resource"]["id"]
    bundle = fhir.get(f"Patient/{pid}/$everything").resource()
    types = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert types == ["Encounter", "Observation", "Organization", "Patient"]
    assert bundle["entry"][0]["resource"]["id"] == pid
    only_obs = fhir.get(f"Patient/{pid}/$everything?_type=Observation").resource()
    assert [e["resource"]["resourceType"] for e in only_obs["entry"]] == ["Observation"]


def test_everything_for_an_unknown_patient_is_404(fhir):
    with pytest.raises(FhirError) as err:
        fhir.get("Patient/nobody/$everything")
    assert err.value.status == 404


def test_everything_pages_start_with_the_patient_and_cover_the_record_once(fhir):
    """Pages are chosen on keys (patient first, then by storage order) and their rows read apart: each
    page comes in that order, the pages do not overlap and together they are the whole record."""
    for n in range(3):
        fhir.post("", patient_bundle(f"p{n}"))
    pid = fhir.get("Patient?given=p1").resource()["entry"][0]["resource"]["id"]
    whole = [e["resource"] for e in fhir.get(f"Patient/{pid}/$everything").resource()["entry"]]
    assert whole[0]["id"] == pid and len(whole) == 4
    pages = [
        [
            e["resource"]
            for e in fhir.get(f"Patient/{pid}/$everything?_count=2&_offset={o}").resource()["entry"]
        ]
        for o in (0, 2)
    ]
    assert [len(p) for p in pages] == [2, 2]
    assert [(r["resourceType"], r["id"]) for p in pages for r in p] == [
        (r["resourceType"], r["id"]) for r in whole
    ]
    assert fhir.get(f"Patient/{pid}/$everything?_count=2&_offset=4").resource().get("entry", []) == []

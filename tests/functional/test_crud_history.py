"""Create, read, vread, update, delete and history through the router, on every backend."""

from __future__ import annotations

import pytest

from yilian.alliance.codes import SOURCE_MEMBER
from yilian.fhir.outcomes import FhirError


def patient(family: str = "张", given: str = "三", **extra) -> dict:
    return {
        "resourceType": "Patient",
        "name": [{"family": family, "given": [given], "text": family + given}],
        "gender": "male",
        "birthDate": "1960-03-05",
        **extra,
    }


def test_create_then_read_returns_the_same_resource_with_server_metadata(fhir):
    created = fhir.post("Patient", patient())
    assert created.status == 201
    body = created.resource()
    assert body["meta"]["versionId"] == "1"
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith(f"/Patient/{body['id']}/_history/1")

    read = fhir.get(f"Patient/{body['id']}")
    assert read.status == 200
    assert read.resource() == body
    assert read.resource()["name"][0]["family"] == "张"


def test_create_ignores_a_client_supplied_id(fhir):
    body = fhir.post("Patient", patient(id="client-chosen")).resource()
    assert body["id"] != "client-chosen"


def test_update_keeps_every_version(fhir):
    p = fhir.post("Patient", patient()).resource()
    p["gender"] = "female"
    updated = fhir.put(f"Patient/{p['id']}", p)
    assert updated.status == 200
    assert updated.resource()["meta"]["versionId"] == "2"

    assert fhir.get(f"Patient/{p['id']}/_history/1").resource()["gender"] == "male"
    assert fhir.get(f"Patient/{p['id']}/_history/2").resource()["gender"] == "female"
    history = fhir.get(f"Patient/{p['id']}/_history").resource()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in history["entry"]] == ["PUT", "POST"]


def test_update_with_no_change_does_not_create_a_version(fhir):
    p = fhir.post("Patient", patient()).resource()
    again = fhir.put(f"Patient/{p['id']}", p)
    assert again.resource()["meta"]["versionId"] == "1"


def test_update_as_create_uses_the_given_id(fhir):
    res = fhir.put("Patient/local-42", patient(id="local-42"))
    assert res.status == 201
    assert fhir.get("Patient/local-42").resource()["id"] == "local-42"


def test_if_match_rejects_a_stale_version(fhir):
    p = fhir.post("Patient", patient()).resource()
    p["gender"] = "female"
    fhir.put(f"Patient/{p['id']}", p)
    p["gender"] = "other"
    with pytest.raises(FhirError) as err:
        fhir.put(f"Patient/{p['id']}", p, if_match='W/"1"')
    assert err.value.status == 409
    ok = fhir.put(f"Patient/{p['id']}", p, if_match='W/"2"')
    assert ok.resource()["meta"]["versionId"] == "3"


def test_delete_then_read_is_gone_and_history_keeps_the_versions(fhir):
    p = fhir.post("Patient", patient()).resource()
    assert fhir.delete(f"Patient/{p['id']}").status == 204
    with pytest.raises(FhirError) as err:
        fhir.get(f"Patient/{p['id']}")
    assert err.value.status == 410
    history = fhir.get(f"Patient/{p['id']}/_history").resource()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert fhir.get(f"Patient?_id={p['id']}").resource()["total"] == 0
    # a deleted resource can be brought back by an update
    revived = fhir.put(f"Patient/{p['id']}", p)
    assert revived.resource()["meta"]["versionId"] == "3"


def test_reading_an_unknown_resource_is_404_with_an_outcome(fhir):
    with pytest.raises(FhirError) as err:
        fhir.get("Patient/nobody")
    assert err.value.status == 404
    assert err.value.outcome()["resourceType"] == "OperationOutcome"


def test_invalid_resources_are_rejected_with_the_path_of_each_problem(fhir):
    bad = patient(birthDate="1960-13-45", colour="blue")
    with pytest.raises(FhirError) as err:
        fhir.post("Patient", bad)
    assert err.value.status == 400
    locations = {p.location for p in err.value.problems}
    assert "Patient.birthDate" in locations
    assert any("colour" in (p.location or "") or "colour" in p.message for p in err.value.problems)
    assert fhir.get("Patient").resource()["total"] == 0  # nothing half-written


def test_body_type_must_match_the_url(fhir):
    with pytest.raises(FhirError) as err:
        fhir.post("Observation", patient())
    assert err.value.status == 400


def test_unknown_resource_type_is_400(fhir):
    with pytest.raises(FhirError) as err:
        fhir.get("Patientt?name=x")
    assert err.value.status == 400


def test_conditional_create_returns_the_existing_match(fhir):
    p = patient(identifier=[{"system": "urn:oid:2.16.156.10011.1.2.1", "value": "MRN-1"}])
    first = fhir.post("Patient", p, if_none_exist="identifier=urn:oid:2.16.156.10011.1.2.1|MRN-1")
    second = fhir.post("Patient", p, if_none_exist="identifier=urn:oid:2.16.156.10011.1.2.1|MRN-1")
    assert first.status == 201 and second.status == 200
    assert first.resource()["id"] == second.resource()["id"]


def test_conditional_update_and_delete_by_identifier(fhir):
    ident = [{"system": "urn:mrn", "value": "A7"}]
    created = fhir.put("Patient?identifier=urn:mrn|A7", patient(identifier=ident))
    assert created.status == 201
    changed = fhir.put("Patient?identifier=urn:mrn|A7", patient(identifier=ident, gender="female"))
    assert changed.status == 200
    assert changed.resource()["id"] == created.resource()["id"]
    assert fhir.request("DELETE", "Patient?identifier=urn:mrn|A7").status == 204
    assert fhir.get("Patient?identifier=urn:mrn|A7").resource()["total"] == 0


def test_conditional_update_with_two_matches_is_412(fhir):
    ident = [{"system": "urn:mrn", "value": "dup"}]
    fhir.post("Patient", patient(identifier=ident))
    fhir.post("Patient", patient(identifier=ident))
    with pytest.raises(FhirError) as err:
        fhir.put("Patient?identifier=urn:mrn|dup", patient(identifier=ident))
    assert err.value.status == 412


def test_the_source_member_is_recorded_from_the_writer(gate, fhir):
    from yilian.testing.plugin import caller

    his = fhir.as_(caller("member-system", "m-a"))
    body = his.post("Patient", patient()).resource()
    tags = {t["system"]: t["code"] for t in body["meta"]["tag"]}
    assert tags[SOURCE_MEMBER] == "m-a"


def test_type_and_system_history(fhir):
    a = fhir.post("Patient", patient()).resource()
    fhir.post("Organization", {"resourceType": "Organization", "name": "滨江社区卫生服务中心"})
    a["gender"] = "female"
    fhir.put(f"Patient/{a['id']}", a)
    assert len(fhir.get("Patient/_history").resource()["entry"]) == 2
    assert len(fhir.get("_history").resource()["entry"]) == 3

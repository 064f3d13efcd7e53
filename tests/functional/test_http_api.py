"""The FHIR API over HTTP: status codes, headers, OperationOutcomes, content types."""

from __future__ import annotations


def auth(tokens, who="admin") -> dict:
    return {"Authorization": f"Bearer {tokens[who]}", "Content-Type": "application/fhir+json"}


def test_capability_statement(client):
    cs = client.get("/fhir/metadata").json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert "Patient" in types and "Provenance" in types
    assert {"name": "birthdate", "type": "date"} in types["Patient"]["searchParam"]


def test_create_read_update_over_http(client, tokens):
    created = client.post(
        "/fhir/Patient", headers=auth(tokens), json={"resourceType": "Patient", "name": [{"family": "孙"}]}
    )
    assert created.status_code == 201
    location = created.headers["location"]
    pid = created.json()["id"]
    assert f"/fhir/Patient/{pid}/_history/1" in location
    read = client.get(f"/fhir/Patient/{pid}", headers=auth(tokens))
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    not_modified = client.get(f"/fhir/Patient/{pid}", headers={**auth(tokens), "If-None-Match": 'W/"1"'})
    assert not_modified.status_code == 304
    body = read.json()
    body["gender"] = "male"
    minimal = client.put(
        f"/fhir/Patient/{pid}", headers={**auth(tokens), "Prefer": "return=minimal"}, json=body
    )
    assert minimal.status_code == 200 and minimal.content == b""


def test_malformed_json_is_an_operation_outcome(client, tokens):
    res = client.post("/fhir/Patient", headers=auth(tokens), content=b"{not json")
    assert res.status_code == 400
    assert res.json()["issue"][0]["diagnostics"].startswith("The request body is not valid JSON")


def test_invalid_resource_outcome_names_the_path(client, tokens):
    res = client.post(
        "/fhir/Patient",
        headers=auth(tokens),
        json={"resourceType": "Patient", "gender": "maybe", "birthDate": "19600101"},
    )
    assert res.status_code == 400
    expressions = {i["expression"][0] for i in res.json()["issue"]}
    assert "Patient.birthDate" in expressions


def test_search_by_post_form(client, tokens):
    client.post("/fhir/Patient", headers=auth(tokens), json={"resourceType": "Patient", "gender": "female"})
    res = client.post(
        "/fhir/Patient/_search",
        headers={"Authorization": "Bearer t-admin", "Content-Type": "application/x-www-form-urlencoded"},
        content=b"gender=female",
    )
    assert res.status_code == 200 and res.json()["total"] == 1


def test_method_not_allowed_is_an_outcome(client, tokens):
    res = client.post("/fhir/Patient/123", headers=auth(tokens), json={"resourceType": "Patient"})
    assert res.status_code == 405
    assert res.json()["resourceType"] == "OperationOutcome"


def test_unsupported_operation_is_501(client, tokens):
    res = client.get("/fhir/Patient/1/$frobnicate", headers=auth(tokens))
    assert res.status_code == 501


def _nested(levels: int) -> dict:
    """An Observation whose subject nests `levels` objects deep (Reference.identifier.assigner...)."""
    ref: dict = {"display": "x"}
    for _ in range(levels // 2):
        ref = {"identifier": {"assigner": ref}}
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": ref}


def test_a_resource_nested_deeper_than_the_store_writes_is_refused_not_a_server_error(client, tokens):
    """Valid JSON of 300 levels (the API reads up to 1,024), which the store cannot write: an outcome,
    and nothing stored, alone or in a transaction."""
    import json

    deep = _nested(300)
    created = client.post("/fhir/Observation", headers=auth(tokens), content=json.dumps(deep))
    assert created.status_code == 400
    assert "nested too deeply" in created.json()["issue"][0]["diagnostics"]
    entry = {"resource": deep, "request": {"method": "POST", "url": "Observation"}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    posted = client.post("/fhir", headers=auth(tokens), content=json.dumps(bundle))
    assert posted.status_code == 400
    issue = posted.json()["issue"][0]
    assert "nested too deeply" in issue["diagnostics"] and issue["expression"] == ["Bundle.entry[0].resource"]
    shallow = client.post("/fhir/Observation", headers=auth(tokens), json=_nested(200))
    assert shallow.status_code == 201
    found = client.get("/fhir/Observation?_summary=count", headers=auth(tokens)).json()
    assert found["total"] == 1

"""A Bundle built in Python (an HL7 or CSV mapper, a workflow) may hold one reference object in several
resources. When a conditional create in it matches a stored resource, every resource that refers to the
create must end up referring to the match, in its JSON as in its index rows: none may keep the
provisional id nothing was stored under."""

from __future__ import annotations

import pytest

from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle, handle_group
from yilian.fhir.transaction_plan import plan_transaction
from yilian.testing.plugin import caller

HIS = caller("member-system", "m-b", user_id="his-b")
MRN = "urn:shared:mrn"


def lab_message(mrn: str, visit: str) -> dict:
    """Patient and visit on their identifiers, two results and a report, one `subject` object for all."""
    subject = {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}
    encounter = {"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"}

    def entry(n: int, resource: dict, condition: str | None = None) -> dict:
        request = {"method": "POST", "url": resource["resourceType"]}
        if condition:
            request["ifNoneExist"] = condition
        return {
            "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{n}",
            "resource": resource,
            "request": request,
        }

    results = [
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": f"r{n}"},
            "subject": subject,
            "encounter": encounter,
        }
        for n in range(2)
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(
                1,
                {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}]},
                f"identifier={MRN}|{mrn}",
            ),
            entry(
                2,
                {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "identifier": [{"system": "urn:shared:visit", "value": visit}],
                    "subject": subject,
                },
                f"identifier=urn:shared:visit|{visit}",
            ),
            entry(3, results[0]),
            entry(4, results[1]),
            entry(
                5,
                {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"text": "panel"},
                    "subject": subject,
                    "encounter": encounter,
                },
            ),
        ],
    }


def written(fhir, responses: list) -> list[dict]:  # noqa: ANN001 - the fhir fixture
    """The resources the Bundles' responses name, read back."""
    paths = [e["response"]["location"].split("/_history")[0] for r in responses for e in r.body["entry"]]
    return [fhir.get("/".join(path.split("/")[-2:])).resource() for path in paths]


@pytest.mark.parametrize("how", ["one Bundle", "a run of planned Bundles", "one planned Bundle"])
def test_every_resource_refers_to_the_stored_patient_a_conditional_create_matched(fhir, gate, how) -> None:  # noqa: ANN001
    patient = (
        fhir.as_(HIS)
        .post("Patient", {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "p1"}]})
        .resource()
    )
    bundles = [lab_message("p1", "v1"), lab_message("p1", "v2")]
    if how == "one Bundle":
        responses = [handle(gate, HIS, FhirRequest("POST", "", body=b)) for b in bundles]
    else:
        requests = [FhirRequest("POST", "", plan=plan_transaction(b["entry"], HIS)) for b in bundles]
        if how == "a run of planned Bundles":
            responses = handle_group(gate, HIS, requests)
        else:
            responses = [handle_group(gate, HIS, [r])[0] for r in requests]
    resources = written(fhir, responses)
    visits = {r["id"] for r in resources if r["resourceType"] == "Encounter"}
    assert len(visits) == 2
    clinical = [r for r in resources if r["resourceType"] != "Patient"]
    assert len(clinical) == 8
    for r in clinical:
        assert r["subject"]["reference"] == f"Patient/{patient['id']}", r["resourceType"]
        if "encounter" in r:
            assert r["encounter"]["reference"].removeprefix("Encounter/") in visits
    by_patient = fhir.get(f"Observation?patient={patient['id']}&_count=100").resource()
    assert len(by_patient.get("entry", [])) == 4


def test_rows_stored_for_moved_references_are_those_the_stored_json_yields(fhir, gate) -> None:  # noqa: ANN001
    """Moving references to a match rewrites the JSON and the index rows apart (bytes and rows, no
    re-extraction): each resource's index rows and compartments must equal what its stored JSON yields."""
    from collections import defaultdict

    import orjson
    from sqlalchemy import select

    from yilian.store.rows import PreparedBatch
    from yilian.store.tables import INDEX_TABLES, compartment, resources

    fhir.as_(HIS).post("Patient", {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "p1"}]})
    bundles = [lab_message("p1", "v1"), lab_message("p1", "v1"), lab_message("p2", "v2")]
    handle_group(
        gate, HIS, [FhirRequest("POST", "", plan=plan_transaction(b["entry"], HIS)) for b in bundles]
    )
    handle(gate, HIS, FhirRequest("POST", "", body=lab_message("p2", "v3")))
    stored: dict[int, set] = defaultdict(set)
    patients: dict[int, set] = defaultdict(set)
    with gate.engine.connect() as conn:
        rows = conn.execute(select(resources)).all()
        for name, table in INDEX_TABLES.items():
            for row in conn.execute(select(table)):
                stored[row[0]].add((name, *row[1:]))
        for pid, rid in conn.execute(select(compartment.c.patient_id, compartment.c.rid)):
            patients[rid].add(pid)
    assert len(rows) == 2 + 3 + 4 * 3  # patients p1 p2, visits v1 (matched once) v2 v3, results and reports
    for r in rows:
        again = PreparedBatch()
        again.prepare(
            orjson.loads(r.content), rid_id=r.id, version=r.version, now=r.last_updated, member=r.member
        )
        assert {(name, *row[1:]) for name, rows_ in again.index.items() for row in rows_} == stored[r.rid]
        assert {pid for _key, pid in again.compartment} == patients[r.rid], r.type

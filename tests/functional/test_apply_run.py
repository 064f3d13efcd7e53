"""Planned Bundles of creates applied together (router.handle_group → transaction.apply_run) must do
exactly what applying them one by one does: the same resources, the same matches of conditional creates
(in the database, or created by an earlier Bundle of the same run), the same references, the same
responses and failures."""

from __future__ import annotations

import pytest

from yilian.fhir import transaction
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle, handle_group
from yilian.fhir.transaction_plan import plan_transaction
from yilian.testing.plugin import caller

HIS = caller("member-system", "m-b", user_id="his-b")


def bundle(world: str, mrn: str, visit: str | None, results: int, *, plain_patient: bool = False) -> dict:
    """A lab message as a feed maps it: patient and visit created on their identifiers, results plain."""
    entries = []
    patient = {"resourceType": "Patient", "identifier": [{"system": f"urn:{world}:mrn", "value": mrn}]}
    request = {"method": "POST", "url": "Patient"}
    if not plain_patient:
        request["ifNoneExist"] = f"identifier=urn:{world}:mrn|{mrn}"
    entries.append(
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001", "resource": patient, "request": request}
    )
    if visit is not None:
        encounter = {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"code": "AMB"},
            "identifier": [{"system": f"urn:{world}:visit", "value": visit}],
            "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        }
        entries.append(
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002",
                "resource": encounter,
                "request": {
                    "method": "POST",
                    "url": "Encounter",
                    "ifNoneExist": f"identifier=urn:{world}:visit|{visit}",
                },
            }
        )
    for n in range(results):
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": f"r{n}"},
            "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        }
        if visit is not None:
            observation["encounter"] = {"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"}
        entries.append({"resource": observation, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def planned(bundles: list[dict]) -> list[FhirRequest]:
    return [FhirRequest("POST", "", plan=plan_transaction(b["entry"], HIS)) for b in bundles]


def scenario(world: str) -> list[dict]:
    """Patients known before (p0, p1) and new ones, visits repeated across messages, one patient sent
    without its condition (a plain create a later message's criteria must find)."""
    return [
        bundle(world, "p0", "v0", 2),
        bundle(world, "p2", "v1", 1),
        bundle(world, "p2", "v1", 2),  # same new patient and visit: matches the message before
        bundle(world, "p1", None, 1),
        bundle(world, "p3", "v2", 1, plain_patient=True),
        bundle(world, "p3", "v3", 1),  # finds p3, created plainly just before
        bundle(world, "p2", "v4", 0),
    ]


def outcome(fhir, world: str, responses: list) -> dict:  # noqa: ANN001 - the fhir fixture
    """What a world ended with, free of ids and clocks."""

    def ident(resource: dict) -> str:
        return resource["identifier"][0]["value"]

    patients = {p["id"]: ident(p) for p in entries(fhir, f"Patient?identifier=urn:{world}:mrn|")}
    visits = {
        e["id"]: ident(e)
        for e in entries(fhir, "Encounter?_count=1000")
        if e["identifier"][0]["system"] == f"urn:{world}:visit"
    }
    observations = sorted(
        (
            o["code"]["text"],
            patients[o["subject"]["reference"].split("/")[1]],
            visits.get(o.get("encounter", {}).get("reference", "/").split("/")[1]),
        )
        for o in entries(fhir, "Observation?_count=1000")
        if o["subject"]["reference"].split("/")[1] in patients
    )
    statuses = [
        r.status if isinstance(r, FhirError) else [e["response"]["status"] for e in r.body["entry"]]
        for r in responses
    ]
    return {
        "patients": sorted(patients.values()),
        "visits": sorted(visits.values()),
        "observations": observations,
        "statuses": statuses,
    }


def entries(fhir, url: str) -> list[dict]:  # noqa: ANN001
    return [
        e["resource"]
        for e in fhir.get(url + ("&" if "?" in url else "?") + "_count=1000").resource().get("entry", [])
    ]


def known_patients(fhir, world: str) -> None:  # noqa: ANN001
    for mrn in ("p0", "p1"):
        fhir.as_(HIS).post(
            "Patient",
            {"resourceType": "Patient", "identifier": [{"system": f"urn:{world}:mrn", "value": mrn}]},
        )


def test_a_run_applied_together_ends_as_one_applied_bundle_by_bundle(fhir, gate, monkeypatch) -> None:  # noqa: ANN001
    known_patients(fhir, "together")
    known_patients(fhir, "apart")
    calls = []
    real = transaction.apply_run
    monkeypatch.setattr(
        transaction, "apply_run", lambda repo, plans: calls.append(len(plans)) or real(repo, plans)
    )
    together = handle_group(gate, HIS, planned(scenario("together")))
    assert calls == [7]  # one run, applied at once
    monkeypatch.setattr(transaction, "mergeable", lambda plan: False)
    apart = handle_group(gate, HIS, planned(scenario("apart")))
    assert calls == [7]
    assert outcome(fhir, "together", together) == outcome(fhir, "apart", apart)
    expected = outcome(fhir, "apart", apart)
    assert expected["patients"] == ["p0", "p1", "p2", "p3"]
    assert expected["visits"] == ["v0", "v1", "v2", "v3", "v4"]
    assert expected["statuses"][2][:2] == ["200 OK", "200 OK"]  # p2 and v1 found, created a message before


def test_criteria_memory_cannot_answer_send_the_run_one_by_one(fhir, gate) -> None:  # noqa: ANN001
    first = bundle("memory", "m1", None, 0)
    second = bundle("memory", "m1", None, 1)
    # Either of two values: an earlier Bundle of the run could match it, and only the database can tell.
    second["entry"][0]["request"]["ifNoneExist"] = "identifier=urn:memory:mrn|m1,urn:memory:mrn|m9"
    with pytest.raises(transaction.NotMergeable), gate.writing(HIS) as repo:
        transaction.apply_run(repo, [r.plan for r in planned([first, second])])
    results = handle_group(gate, HIS, planned([first, second]))
    assert [[e["response"]["status"] for e in r.body["entry"]] for r in results] == [
        ["201 Created"],
        ["200 OK", "201 Created"],
    ]
    assert len(entries(fhir, "Patient?identifier=urn:memory:mrn|m1")) == 1


def test_a_failing_bundle_of_a_run_fails_alone(fhir, gate) -> None:  # noqa: ANN001
    for _ in range(2):  # two patients with one MRN: a conditional create on it is ambiguous (412)
        handle(
            gate,
            HIS,
            FhirRequest(
                "POST",
                "Patient",
                body={
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:fail:mrn", "value": "twice"}],
                },
            ),
        )
    results = handle_group(
        gate,
        HIS,
        planned(
            [bundle("fail", "ok1", "v1", 1), bundle("fail", "twice", None, 1), bundle("fail", "ok2", None, 1)]
        ),
    )
    assert isinstance(results[1], FhirError) and results[1].status == 412
    assert [r.status for r in (results[0], results[2])] == [200, 200]
    assert sorted(p["identifier"][0]["value"] for p in entries(fhir, "Patient?identifier=urn:fail:mrn|")) == [
        "ok1",
        "ok2",
        "twice",
        "twice",
    ]

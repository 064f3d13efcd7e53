"""A transaction's conditional entries are looked up together (GatedRepository.find_all, one statement for
the plain token criteria): each still matches exactly what `find` would, within the caller's scope, and
two matches are still a 412."""

from __future__ import annotations

import pytest

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.fhir.transaction_plan import plan_transaction
from yilian.testing.plugin import caller

HIS_A = caller("member-system", "m-a")
HIS_B = caller("member-system", "m-b")
MRN = "urn:oid:2.16.156.10011.1.1"


def patient(mrn: str, family: str) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": mrn}],
        "name": [{"family": family}],
    }


def create(url: str, resource: dict, condition: str) -> dict:
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {"method": "POST", "url": "Patient", "ifNoneExist": condition},
    }


def observation_of(subject: str, text: str) -> dict:
    """A plain create of an Observation about `subject`."""
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": text}}
    resource["subject"] = {"reference": subject}
    return {"resource": resource, "request": {"method": "POST", "url": "Observation"}}


def transaction(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def statuses(response) -> list[str]:  # noqa: ANN001
    return [e["response"]["status"] for e in response.resource()["entry"]]


def test_many_conditional_entries_match_each_their_own(fhir):
    a = fhir.as_(HIS_A)
    a.post("Patient", patient("1", "甲"))
    a.post("Patient", patient("2", "乙"))
    bundle = transaction(
        create("urn:uuid:1", patient("1", "甲"), f"identifier={MRN}|1"),
        create("urn:uuid:2", patient("2", "乙"), "identifier=2"),  # no system: any system
        create("urn:uuid:3", patient("3", "丙"), f"identifier={MRN}|3"),
        create("urn:uuid:4", patient("4", "丁"), "identifier=http://other|1"),  # same value, other system
        create("urn:uuid:5", patient("5", "戊"), "family=甲&identifier=5"),  # not a single token: alone
        {
            "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|2"},
            "resource": patient("2", "乙二"),
        },
    )
    assert statuses(a.post("", bundle)) == [
        "200 OK",
        "200 OK",
        "201 Created",
        "201 Created",
        "201 Created",
        "200 OK",
    ]
    found = {
        e["resource"]["identifier"][0]["value"]: e["resource"] for e in a.get("Patient").resource()["entry"]
    }
    assert sorted(found) == ["1", "2", "3", "4", "5"]
    assert found["2"]["name"] == [{"family": "乙二"}]


def test_a_resource_the_caller_cannot_see_is_never_matched(fhir):
    fhir.as_(HIS_B).post("Patient", patient("9", "乙"))
    fhir.as_(HIS_B).post("Patient", patient("8", "乙"))
    a = fhir.as_(HIS_A)
    bundle = transaction(
        create("urn:uuid:9", patient("9", "甲"), f"identifier={MRN}|9"),
        create("urn:uuid:8", patient("8", "甲"), f"identifier={MRN}|8"),
    )
    assert statuses(a.post("", bundle)) == ["201 Created", "201 Created"]
    assert a.get("Patient").resource()["total"] == 2
    assert fhir.get(f"Patient?identifier={MRN}|9").resource()["total"] == 2  # one for each member


def test_two_matches_fail_the_whole_transaction_with_412(fhir):
    a = fhir.as_(HIS_A)
    a.post("Patient", patient("7", "甲"))
    a.post("Patient", patient("7", "甲"))
    bundle = transaction(
        create("urn:uuid:6", patient("6", "丙"), f"identifier={MRN}|6"),
        create("urn:uuid:7", patient("7", "甲"), f"identifier={MRN}|7"),
    )
    with pytest.raises(FhirError) as err:
        a.post("", bundle)
    assert err.value.status == 412
    assert a.get(f"Patient?identifier={MRN}|6").resource()["total"] == 0  # nothing half-written


def test_conditional_put_and_delete_are_planned_without_the_database(fhir, gate):
    a = fhir.as_(HIS_A)
    existing = a.post("Patient", patient("1", "甲")).resource()["id"]
    gone = a.post("Patient", patient("2", "乙")).resource()["id"]
    entries = [
        {
            "fullUrl": "urn:uuid:p",
            "resource": patient("1", "甲二"),
            "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|1"},
        },
        {
            "fullUrl": "urn:uuid:q",
            "resource": patient("3", "丙"),
            "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|3"},
        },
        {"request": {"method": "DELETE", "url": f"Patient?identifier={MRN}|2"}},
        observation_of("urn:uuid:p", "BP"),
        observation_of("urn:uuid:q", "HR"),
    ]
    plan = plan_transaction(entries, HIS_A, resolver=None)  # as a loader's worker plans: no database
    response = handle(gate, HIS_A, FhirRequest("POST", "", plan=plan))
    assert statuses(response) == ["200 OK", "201 Created", "204 No Content", "201 Created", "201 Created"]
    assert a.get(f"Patient/{existing}").resource()["name"] == [{"family": "甲二"}]
    with pytest.raises(FhirError):
        a.get(f"Patient/{gone}")
    created = a.get(f"Patient?identifier={MRN}|3").resource()["entry"][0]["resource"]["id"]
    subjects = {
        e["resource"]["code"]["text"]: e["resource"]["subject"]["reference"]
        for e in a.get("Observation").resource()["entry"]
    }
    assert subjects == {"BP": f"Patient/{existing}", "HR": f"Patient/{created}"}
    assert a.get(f"Observation?subject=Patient/{existing}").resource()["total"] == 1  # index rows moved too


def test_a_conditional_put_with_two_matches_is_412(fhir):
    a = fhir.as_(HIS_A)
    a.post("Patient", patient("5", "甲"))
    a.post("Patient", patient("5", "甲"))
    entry = {
        "resource": patient("5", "乙"),
        "request": {"method": "PUT", "url": f"Patient?identifier={MRN}|5"},
    }
    with pytest.raises(FhirError) as err:
        a.post("", transaction(entry, create("urn:uuid:6", patient("6", "丙"), f"identifier={MRN}|6")))
    assert err.value.status == 412
    assert a.get(f"Patient?identifier={MRN}|6").resource()["total"] == 0


@pytest.mark.parametrize(
    "condition",
    [
        "combo-code=http://loinc.org|2339-0",  # its rows are the `code` rows (search/derived.py)
        "_tag={SOURCE_MEMBER}|m-a",  # answered from the member column
        "_security={GBT_LEVEL}|L4",  # answered from the level column
    ],
)
def test_conditional_criteria_answered_from_columns_or_shared_rows_still_match(gate, condition):
    """Criteria on index rows the store no longer writes must still find the existing resource, or a
    conditional create would store a duplicate."""
    from yilian.alliance.codes import GBT_LEVEL, SOURCE_MEMBER

    condition = condition.format(SOURCE_MEMBER=SOURCE_MEMBER, GBT_LEVEL=GBT_LEVEL)
    glucose = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
    }
    first = handle(gate, HIS_A, FhirRequest("POST", "Observation", body=glucose)).resource()["id"]
    again = {
        "fullUrl": "urn:uuid:0f7c2a52-6d4b-4a57-9b1c-2f5d8f3e6a10",
        "resource": glucose,
        "request": {"method": "POST", "url": "Observation", "ifNoneExist": condition},
    }
    body = handle(gate, HIS_A, FhirRequest("POST", "", body=transaction(again))).resource()
    assert body["entry"][0]["response"]["status"].startswith("200")
    assert f"/Observation/{first}/" in body["entry"][0]["response"]["location"]


def test_a_bundles_token_criteria_are_looked_up_in_one_statement(fhir, engine):
    from sqlalchemy import event

    a = fhir.as_(HIS_A)
    for n in range(4):
        a.post("Patient", patient(str(n), "甲"))
    lookups: list[str] = []

    def record(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "idx_token" in statement:
            lookups.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        bundle = transaction(
            *(create(f"urn:uuid:{n}", patient(str(n), "甲"), f"identifier={MRN}|{n}") for n in range(6))
        )
        assert statuses(a.post("", bundle)) == ["200 OK"] * 4 + ["201 Created"] * 2
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(lookups) == 1, lookups  # six criteria, one statement


def test_the_lookup_statement_is_built_once_for_a_caller_s_transactions(fhir):
    """A feed writing one message per transaction reuses the statement built on its (cached) scope."""
    from yilian.gate import repository as gated

    a = fhir.as_(HIS_A)
    before = gated._cached_tokens_lookup.cache_info()
    for n in range(3):
        bundle = transaction(create(f"urn:uuid:{n}", patient(str(n), "甲"), f"identifier={MRN}|{n}"))
        assert statuses(a.post("", bundle)) == ["201 Created"]
    after = gated._cached_tokens_lookup.cache_info()
    built, reused = after.misses - before.misses, after.hits - before.hits
    assert built + reused == 3  # each transaction asked for the statement once
    assert built <= 2  # built once (twice if a minute turned meanwhile: scopes are cached per minute)


def test_a_value_many_resources_share_is_read_at_most_twice_per_criterion(fhir, gate):
    """Telling one match from several takes two rows: a criterion thousands of resources satisfy (a
    shared status, a reused identifier) must not load them all, in one lookup or many."""
    from yilian.store import repository

    a = fhir.as_(HIS_A)
    for n in range(6):
        a.post("Patient", patient("shared", f"甲{n}"))
        a.post(
            "Patient", {**patient("shared", f"乙{n}"), "identifier": [{"system": "urn:b", "value": "shared"}]}
        )
    a.post("Patient", patient("alone", "丁"))
    rows_read: list[int] = []
    run = repository.run_tokens_lookup

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        rows = run(*args, **kwargs)
        rows_read.append(len(rows))
        return rows

    with gate.writing(HIS_A) as repo:
        repository.run_tokens_lookup = counted
        try:
            found = repo.find_all(
                [
                    ("Patient", [("identifier", f"{MRN}|shared")]),
                    ("Patient", [("identifier", "shared")]),  # any system: two per system
                    ("Patient", [("identifier", f"{MRN}|alone")]),
                ]
            )
            one = repo.find("Patient", [("identifier", f"{MRN}|shared")])
        finally:
            repository.run_tokens_lookup = run
    assert [len(hits) for hits in found] == [2, 2, 1] and len(one) == 2
    # (MRN, shared) twice, (urn:b, shared) twice, alone once; then `find`: the value under both systems
    assert rows_read == [2 + 2 + 1, 2 + 2]

"""Link, unlink, merge, unmerge and review decisions: only a steward or administrator may act, each is
recorded, and each can be undone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yilian.fhir.outcomes import FhirError
from yilian.identity import index, links
from yilian.identity.tables import mpi_actions, mpi_links
from yilian.identity.testing import patient, resident_id
from yilian.testing.plugin import caller

A, B = caller("member-system", "m-a"), caller("member-system", "m-b")
STEWARD = caller("mpi-steward", None, user_id="steward")


def register(fhir, who, resource) -> str:
    return fhir.as_(who).post("Patient", resource).resource()["id"]


def person_of(gate, pid: str) -> str:
    with gate.engine.connect() as conn:
        return index.get(conn, pid).person_id


def params(**kw) -> dict:
    out = []
    for name, v in kw.items():
        if isinstance(v, int):
            out.append({"name": name, "valueInteger": v})
        elif "/" in v:
            out.append({"name": name, "valueReference": {"reference": v}})
        else:
            out.append({"name": name, "valueString": v})
    return {"resourceType": "Parameters", "parameter": out}


def action_of(response) -> int:
    return next(p["valueInteger"] for p in response.resource()["parameter"] if p["name"] == "action")


@pytest.fixture
def two(fhir):
    a = register(fhir, A, patient("张建国", rid=None, mrn="A1"))
    b = register(
        fhir,
        B,
        patient(
            "李秀英",
            sex="female",
            birth="1971-02-03",
            phone="13900001111",
            address="滨盛路8号",
            rid=None,
            mrn="B1",
        ),
    )
    return a, b


def test_link_then_undo(fhir, gate, two):
    a, b = two
    steward = fhir.as_(STEWARD)
    done = steward.post(
        "Patient/$mpi-link", params(patient=f"Patient/{a}", other=f"Patient/{b}", note="same")
    )
    assert person_of(gate, a) == person_of(gate, b)
    person = person_of(gate, a)
    assert len(fhir.get(f"Person/{person}/$golden").resource()["link"]) == 2
    steward.post("Person/$mpi-unmerge", params(action=action_of(done)))
    assert person_of(gate, a) != person_of(gate, b)
    with gate.engine.connect() as conn:
        rows = conn.execute(select(mpi_actions).order_by(mpi_actions.c.id)).all()
    assert [r.action for r in rows] == ["link", "unmerge"] and rows[0].undone_by == rows[1].id
    assert rows[0].by == "steward" and rows[0].note == "same"


def test_unlink_keeps_the_record_apart_even_when_it_arrives_again(fhir, gate):
    rid = resident_id("330108", "1960-03-08", 137)
    a = register(fhir, A, patient(rid=rid, mrn="A1"))
    b = register(fhir, B, patient(rid=rid, mrn="B1"))
    assert person_of(gate, a) == person_of(gate, b)
    undo = fhir.as_(STEWARD).post("Patient/$mpi-unlink", params(patient=f"Patient/{b}"))
    assert person_of(gate, a) != person_of(gate, b)
    again = fhir.get(f"Patient/{b}").resource()
    again["telecom"] = [{"system": "phone", "value": "13811110000"}]
    fhir.as_(B).put(f"Patient/{b}", again)  # re-matched on arrival, but a person said no
    assert person_of(gate, a) != person_of(gate, b)
    fhir.as_(STEWARD).post("Patient/$mpi-undo", params(action=action_of(undo)))
    assert person_of(gate, a) == person_of(gate, b)


def test_merge_two_persons_and_unmerge(fhir, gate, two):
    a, b = two
    pa, pb = person_of(gate, a), person_of(gate, b)
    merged = fhir.post("Person/$mpi-merge", params(person=f"Person/{pa}", other=f"Person/{pb}"))
    assert person_of(gate, a) == person_of(gate, b)
    gone = {pa, pb} - {person_of(gate, a)}
    with pytest.raises(FhirError) as err:
        fhir.get(f"Person/{gone.pop()}/$golden")
    assert err.value.status == 404
    fhir.post("Person/$mpi-unmerge", params(action=action_of(merged)))
    assert person_of(gate, a) != person_of(gate, b)
    with pytest.raises(FhirError) as again:
        fhir.post("Person/$mpi-unmerge", params(action=action_of(merged)))
    assert again.value.status == 409


def test_review_decisions(fhir, gate):
    home = {"birth": "2015-06-01", "phone": "13811112222", "address": "西兴路120号江景苑2幢"}
    a = register(fhir, A, patient("王建国", rid=None, mrn="A1", **home))
    b = register(fhir, B, patient("王建军", rid=None, mrn="B1", **home))
    with gate.engine.connect() as conn:
        reviews = links.open_reviews(conn)
    assert [(r.a, r.b) for r in reviews] == [links.ordered(a, b)]
    fhir.as_(STEWARD).post("Patient/$mpi-review", params(review=reviews[0].id, decision="no-match"))
    with gate.engine.connect() as conn:
        assert conn.execute(select(mpi_links.c.status)).scalar() == links.NO_MATCH
    assert person_of(gate, a) != person_of(gate, b)


@pytest.mark.parametrize("who", [caller("clinician"), caller("member-system", "m-a")])
def test_only_stewards_and_administrators_act(fhir, two, who):
    a, b = two
    with pytest.raises(FhirError) as err:
        fhir.as_(who).post("Patient/$mpi-link", params(patient=f"Patient/{a}", other=f"Patient/{b}"))
    assert err.value.status == 403

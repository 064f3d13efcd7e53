"""The first gate: authenticated callers and organisation scoping on every read path.

A member's system sees only what its member sent (plus the shared directory), and not even a count of
the rest; a patient sees only their own compartment; writes to another member's data are refused.
"""

from __future__ import annotations

import pytest

from yilian.fhir.outcomes import FhirError
from yilian.testing.plugin import caller

HIS_A = caller("member-system", "m-a")
HIS_B = caller("member-system", "m-b")


@pytest.fixture
def two_members(fhir):
    a = fhir.as_(HIS_A)
    b = fhir.as_(HIS_B)
    pa = a.post("Patient", {"resourceType": "Patient", "name": [{"family": "甲"}]}).resource()["id"]
    pb = b.post("Patient", {"resourceType": "Patient", "name": [{"family": "乙"}]}).resource()["id"]
    for pid, who in ((pa, a), (pb, b)):
        who.post(
            "Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "BP"},
                "subject": {"reference": f"Patient/{pid}"},
            },
        )
    fhir.post("Organization", {"resourceType": "Organization", "name": "医联体"})
    return pa, pb


def test_member_system_sees_only_its_own_data(fhir, two_members):
    pa, pb = two_members
    a = fhir.as_(HIS_A)
    assert a.get("Patient").resource()["total"] == 1
    assert a.get("Patient?_summary=count").resource()["total"] == 1
    assert a.get("Observation?code:text=BP").resource()["total"] == 1
    with pytest.raises(FhirError) as err:
        a.get(f"Patient/{pb}")
    assert err.value.status == 404  # not 403: do not reveal it exists
    with pytest.raises(FhirError):
        a.get(f"Patient/{pb}/$everything")
    with pytest.raises(FhirError):
        a.get(f"Patient/{pb}/_history")
    included = a.get(f"Observation?_include=Observation:subject&subject=Patient/{pb}").resource()
    assert included["total"] == 0 and included["entry"] == []
    rev = a.get(f"Patient?_id={pa},{pb}&_revinclude=Observation:subject").resource()
    assert {e["resource"]["id"] for e in rev["entry"] if e["resource"]["resourceType"] == "Patient"} == {pa}
    assert len(rev["entry"]) == 2
    assert a.get("Organization").resource()["total"] == 1  # the directory is shared


def test_chained_search_does_not_leak_through_the_target(fhir, two_members):
    _pa, pb = two_members
    a = fhir.as_(HIS_A)
    # A's own Observation about B's patient: A may see it, but not learn B's patient's name through it.
    a.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pb}"},
        },
    )
    assert a.get(f"Observation?subject=Patient/{pb}").resource()["total"] == 1
    assert a.get("Observation?subject:Patient.name=乙").resource()["total"] == 0
    assert fhir.get("Observation?subject:Patient.name=乙").resource()["total"] == 2


def test_member_cannot_change_another_members_data(fhir, two_members):
    _pa, pb = two_members
    b_patient = fhir.get(f"Patient/{pb}").resource()
    b_patient["gender"] = "female"
    with pytest.raises(FhirError) as err:
        fhir.as_(HIS_A).put(f"Patient/{pb}", b_patient)
    assert err.value.status == 403
    fhir.as_(HIS_A).delete(f"Patient/{pb}")  # deleting what you cannot see does nothing
    assert fhir.get(f"Patient/{pb}").status == 200


def test_clinician_sees_their_own_member_and_nothing_else_without_consent(fhir, two_members):
    pa, pb = two_members
    doc = fhir.as_(caller("clinician", "m-a"))
    assert [e["resource"]["id"] for e in doc.get("Patient").resource()["entry"]] == [pa]
    assert doc.get(f"Observation?subject=Patient/{pb}&_summary=count").resource()["total"] == 0


def test_patient_sees_only_their_compartment(fhir, two_members):
    pa, pb = two_members
    me = fhir.as_(caller("patient", None, patient_id=pa))
    assert me.get("Patient").resource()["total"] == 1
    assert me.get("Observation").resource()["total"] == 1
    assert len(me.get(f"Patient/{pa}/$everything").resource()["entry"]) == 2
    with pytest.raises(FhirError):
        me.get(f"Patient/{pb}")
    with pytest.raises(FhirError) as err:
        me.post("Patient", {"resourceType": "Patient"})
    assert err.value.status == 403


def test_caller_without_roles_sees_nothing(fhir, two_members):
    nobody = fhir.as_(caller("", "m-a"))
    assert nobody.get("Patient?_summary=count").resource()["total"] == 0
    assert nobody.get("Organization").resource()["total"] == 0


def test_http_requires_a_valid_token(client, tokens):
    assert client.get("/fhir/metadata").status_code == 200
    missing = client.get("/fhir/Patient")
    assert missing.status_code == 401
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Patient", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/fhir/Patient", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/fhir+json")
    bad_purpose = client.get(
        "/fhir/Patient",
        headers={"Authorization": f"Bearer {tokens['admin']}", "X-Purpose-Of-Use": "SHOPPING"},
    )
    assert bad_purpose.status_code == 400

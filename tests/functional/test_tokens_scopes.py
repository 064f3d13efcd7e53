"""Sign-in for the API: passwords (argon2), OAuth2 tokens with SMART v2 scopes, expiry and revocation."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from yilian.fhir.outcomes import FhirError
from yilian.gate import scopes as smart
from yilian.gate.tables import access_tokens
from yilian.gate.tokens import set_password
from yilian.gate.users import add_user
from yilian.testing.plugin import caller


@pytest.fixture
def doctor(engine):
    add_user(engine, "dr.qian", "钱医生", "m-a", ["clinician"])
    set_password(engine, "dr.qian", "correct horse 电池")
    return "dr.qian"


def get_token(client, **form) -> dict:
    return client.post("/auth/token", data=form).json()


def test_password_grant_gives_a_working_bearer_token(client, doctor):
    issued = get_token(
        client,
        grant_type="password",
        username=doctor,
        password="correct horse 电池",
        scope="user/Patient.rs user/Observation.rs",
    )
    assert issued["token_type"] == "Bearer" and issued["expires_in"] > 0
    assert issued["scope"] == "user/Observation.rs user/Patient.rs"
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    assert client.get("/fhir/Patient", headers=headers).status_code == 200
    # Not in the token's scopes: refused even though the role could.
    denied = client.get("/fhir/Condition", headers=headers)
    assert denied.status_code == 403 and "scopes" in denied.json()["issue"][0]["diagnostics"]
    create = client.post("/fhir/Patient", headers=headers, json={"resourceType": "Patient"})
    assert create.status_code == 403


def test_wrong_password_and_unknown_user_look_the_same(client, doctor):
    bad = client.post("/auth/token", data={"grant_type": "password", "username": doctor, "password": "x"})
    nobody = client.post("/auth/token", data={"grant_type": "password", "username": "ghost", "password": "x"})
    assert bad.status_code == nobody.status_code == 401
    assert bad.json()["error"] == nobody.json()["error"] == "invalid_grant"


def test_expired_and_revoked_tokens_stop_working(client, doctor, engine):
    issued = get_token(client, grant_type="password", username=doctor, password="correct horse 电池")
    headers = {"Authorization": f"Bearer {issued['access_token']}"}
    assert client.get("/fhir/Patient", headers=headers).status_code == 200
    client.post("/auth/revoke", data={"token": issued["access_token"]})
    assert client.get("/fhir/Patient", headers=headers).status_code == 401
    again = get_token(client, grant_type="password", username=doctor, password="correct horse 电池")
    with engine.begin() as conn:
        conn.execute(update(access_tokens).values(expires=time.time() - 1))
    assert (
        client.get("/fhir/Patient", headers={"Authorization": f"Bearer {again['access_token']}"}).status_code
        == 401
    )


def test_a_patient_never_gets_more_than_patient_scopes(client, engine):
    add_user(engine, "patient:p1", "患者", None, ["patient"])
    set_password(engine, "patient:p1", "pw-123456")
    issued = get_token(
        client,
        grant_type="password",
        username="patient:p1",
        password="pw-123456",
        scope="user/*.cruds patient/Observation.rs",
    )
    assert issued["scope"] == "patient/Observation.rs"


def test_bad_scope_syntax_is_invalid_scope(client, doctor):
    res = client.post(
        "/auth/token",
        data={
            "grant_type": "password",
            "username": doctor,
            "password": "correct horse 电池",
            "scope": "user/observation.read",
        },
    )
    assert res.status_code == 400 and res.json()["error"] == "invalid_scope"


def test_scope_rules():
    assert smart.allows(frozenset({"user/*.rs"}), "Observation", "r")
    assert not smart.allows(frozenset({"user/*.rs"}), "Observation", "c")
    assert smart.allows(frozenset({"system/Patient.write"}), "Patient", "u")
    assert smart.readable_types(frozenset({"user/Patient.rs", "user/Observation.s"})) == {
        "Patient",
        "Observation",
    }
    assert smart.narrow(frozenset({"patient/*.cruds"}), frozenset({"patient/*.rs"})) == frozenset()


def test_scopes_limit_includes_too(fhir):
    pid = fhir.post("Patient", {"resourceType": "Patient"}).resource()["id"]
    fhir.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    )
    narrow = caller("admin", None)
    narrow = narrow.__class__(**{**narrow.__dict__, "scopes": frozenset({"user/Observation.rs"})})
    bundle = fhir.as_(narrow).get("Observation?_include=Observation:subject").resource()
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Observation"]
    with pytest.raises(FhirError):
        fhir.as_(narrow).get(f"Patient/{pid}")

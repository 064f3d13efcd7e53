"""The patient's access log and the security officer's pages over HTTP, as signed-in users."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from yilian.audit.log import of
from yilian.audit.proofs import check_inclusion
from yilian.audit.tables import audit_event
from yilian.gate.users import add_user
from yilian.security.interfaces import NullNotifier
from yilian.testing.plugin import caller, sign_in

HIS_B = caller("member-system", "m-b", user_id="his-b")
DOC_A = caller("clinician", "m-a", user_id="dr.a", name="王医生")


@pytest.fixture
def world(fhir, engine):  # noqa: ANN001, ANN201
    """Member B registered 周敏; a doctor at A opened her record under break-glass; users to sign in as."""
    fhir.put("Organization/m-a", {"resourceType": "Organization", "id": "m-a", "name": "滨江第一医院"})
    b = fhir.as_(HIS_B)
    pid = b.post(
        "Patient", {"resourceType": "Patient", "name": [{"family": "周", "given": ["敏"]}]}
    ).resource()["id"]
    fhir.as_(DOC_A).post(
        f"Patient/{pid}/$break-glass",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "reason", "valueString": "昏迷送急诊，需查既往史"}],
        },
    )
    fhir.as_(DOC_A.with_purpose("ETREAT")).get(f"Patient/{pid}")
    add_user(engine, f"patient:{pid}", "周敏", None, ["patient"], token="t-patient")
    add_user(engine, "sec", "安全管理员", None, ["auditor"], token="t-auditor")
    add_user(engine, "dr.a", "王医生", "m-a", ["clinician"], token="t-doc")
    return pid


def test_the_patient_sees_who_opened_their_record_and_why(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-patient")
    page = client.get("/portal/access-log")
    assert page.status_code == 200
    html = page.text
    assert "王医生" in html and "滨江第一医院" in html and "昏迷送急诊，需查既往史" in html
    assert "紧急诊疗（破窗）" in html
    assert client.get("/portal/access-log?lang=en").text.count("Emergency treatment (break-glass)") >= 1


def test_the_patient_downloads_a_proof_that_checks_out(client, world, gate) -> None:  # noqa: ANN001
    sign_in(client, "t-patient")
    html = client.get("/portal/access-log").text
    href = html.split('class="proof-link" href="')[1].split('"')[0]
    response = client.get(href)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    proof = response.json()
    assert check_inclusion(proof, of(gate).key.public) == []
    assert proof["auditEvent"]["resourceType"] == "AuditEvent"


def test_a_patient_cannot_fetch_proofs_of_someone_elses_accesses(client, world, engine) -> None:  # noqa: ANN001
    with engine.connect() as conn:
        other = (
            conn.execute(select(audit_event.c.seq).where(audit_event.c.action == "create")).scalars().first()
        )
    add_user(engine, "patient:nobody", "某人", None, ["patient"], token="t-nobody")
    sign_in(client, "t-nobody")
    assert client.get(f"/portal/access-log/{other}/proof.json").status_code == 404


def test_the_access_log_is_for_patients_and_the_audit_pages_for_officers(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-doc")
    assert client.get("/portal/access-log").status_code == 403
    assert client.get("/security/audit").status_code == 403
    assert client.get("/security/alerts").status_code == 403
    assert client.get("/security/incidents").status_code == 403


def test_the_officer_searches_the_log_and_reads_an_event(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-auditor")
    html = client.get("/security/audit", params={"user_id": "dr.a", "break_glass": "true"}).text
    assert "昏迷送急诊" in html and "安全审计" in html
    seq = html.split('href="/security/audit/events/')[1].split('"')[0]
    event = client.get(f"/security/audit/events/{seq}")
    assert event.status_code == 200 and "AuditEvent" in event.text
    assert client.get(f"/security/audit/events/{seq}/proof.json").json()["leafIndex"] >= 0


def test_the_officer_verifies_the_log_from_the_page(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-auditor")
    page = client.post("/security/audit/verify")
    assert page.status_code == 200 and 'data-verified="ok"' in page.text


def test_alerts_list_break_glass_accesses_and_refusals(client, world, fhir, settings) -> None:  # noqa: ANN001
    from yilian.fhir.outcomes import FhirError

    prowler = caller("clinician", "m-a", user_id="dr.prowl")
    for _ in range(settings.anomaly_denials):
        with pytest.raises(FhirError):
            fhir.as_(prowler).get(f"Patient/{world}")
    sign_in(client, "t-auditor")
    html = client.get("/security/alerts").text
    assert 'data-kind="denials"' in html and "dr.prowl" in html
    assert "昏迷送急诊，需查既往史" in html  # the break-glass access, from the audit log


def test_sign_ins_are_audited_refused_ones_too(client, world, engine) -> None:  # noqa: ANN001
    client.post("/signin", data={"token": "wrong"})
    sign_in(client, "t-doc")
    assert client.get("/fhir/Patient", headers={"Authorization": "Bearer forged"}).status_code == 401
    of(client.app.state.gate).drain()
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_event.c.user_id, audit_event.c.outcome)
            .where(audit_event.c.action == "login")
            .order_by(audit_event.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [("token", 401), ("dr.a", 200), ("bearer", 401)]


def test_members_fetch_the_checkpoint_and_hand_back_their_countersignature(
    client, world, gate, tmp_path
) -> None:  # noqa: ANN001
    from yilian.audit import checkpoint as cps
    from yilian.audit.witness import add_witness, countersign
    from yilian.crypto.keys import new_keypair

    log = of(gate)
    log.fold_all()
    add_user(gate.engine, "his-a", "HIS A", "m-a", ["member-system"], token="t-his-a")
    member_key = new_keypair(log.suite)
    add_witness(gate.engine, "m-a", member_key.algorithm, member_key.public)
    auth = {"Authorization": "Bearer t-his-a"}
    note = client.get("/audit/checkpoint", headers=auth).text
    signed = countersign(note, "m-a", member_key)
    assert client.post("/audit/checkpoint/cosignature", content=signed, headers=auth).status_code == 200
    stored = cps.parse(log.head().note)
    assert stored.signed_by() == [log.name, "m-a"]
    forged = countersign(note, "m-a", new_keypair(log.suite))
    assert client.post("/audit/checkpoint/cosignature", content=forged, headers=auth).status_code == 403


def test_incident_response_end_to_end(client, world, fhir) -> None:  # noqa: ANN001
    sign_in(client, "t-auditor")
    now = time.time()
    start = time.strftime("%Y-%m-%d %H:%M", time.localtime(now - 3600))
    end = time.strftime("%Y-%m-%d %H:%M", time.localtime(now + 3600))
    created = client.post(
        "/security/incidents",
        data={
            "title": "王医生账号疑似被盗用",
            "start": start,
            "end": end,
            "users": "dr.a",
            "description": "异地登录",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    report = client.get(created.headers["location"]).text
    assert 'class="affected-count">1<' in report and world in report
    client.app.state.notifier = notifier = NullNotifier()
    client.post(created.headers["location"] + "/notify")
    assert [p for p, _ in notifier.sent] == [world] and "王医生账号疑似被盗用" in notifier.sent[0][1]
    report = client.get(created.headers["location"]).text
    assert 'class="notified-count">1<' in report
    client.post(created.headers["location"] + "/notify")
    assert len(notifier.sent) == 1  # told once
    sign_in(client, "t-patient")
    assert "安全事件通知" in client.get("/portal/access-log").text  # the notification is in their log too


def test_a_treatment_read_outside_any_care_relationship_is_flagged(fhir, gate, engine) -> None:  # noqa: ANN001
    from yilian.security.anomalies import alerts
    from yilian.testing.plugin import consent_resource

    pid = (
        fhir.as_(HIS_B)
        .post("Patient", {"resourceType": "Patient", "name": [{"text": "卫东"}]})
        .resource()["id"]
    )
    fhir.as_(HIS_B).post("Consent", consent_resource(pid))
    doc = caller("clinician", "m-a", user_id="dr.far")
    fhir.as_(doc).get(f"Patient/{pid}")  # consented, but member A never treated this patient

    def flagged() -> set[str]:
        of(gate).drain()
        with engine.connect() as conn:
            found = alerts(conn, gate, patients_per_day=1000, denials=1000, since=time.time() - 3600)
        return {a.user_id for a in found if a.kind == "no-care-relationship"}

    assert "dr.far" in flagged()
    fhir.as_(caller("member-system", "m-a")).post(
        "Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "subject": {"reference": f"Patient/{pid}"},
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        },
    )
    assert "dr.far" not in flagged()  # an encounter at member A is a care relationship

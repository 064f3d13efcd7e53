"""Bulk export ($export): the Bulk Data kick-off / status / manifest / file protocol, run as the caller who
asked, so a clinician without consent exports nothing of a patient (not even a file or a count), level-5
data only where a consent names it, redaction as on reads, every page audited, other users locked out."""

from __future__ import annotations

import time

import orjson
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from yilian.audit.log import of
from yilian.audit.tables import audit_entry, audit_event
from yilian.export import jobs, runner
from yilian.export.api import status_response
from yilian.export.tables import export_jobs
from yilian.fhir.outcomes import FhirError
from yilian.testing.plugin import caller, consent_resource

ICD10 = "http://hl7.org/fhir/sid/icd-10"
HIS_B = caller("member-system", "m-b", user_id="his-b")
DOC_A = caller("clinician", "m-a", user_id="dr.a")
ASYNC = {"prefer": "respond-async"}


@pytest.fixture
def record(fhir) -> str:
    """A patient of member B with an ordinary lab (level 4) and an HIV diagnosis (level 5)."""
    b = fhir.as_(HIS_B)
    pid = b.post("Patient", {"resourceType": "Patient", "name": [{"family": "周", "given": ["敏"]}]})
    pid = pid.resource()["id"]
    subject = {"reference": f"Patient/{pid}"}
    lab = {"coding": [{"system": "http://loinc.org", "code": "14771-0"}]}
    b.post("Observation", {"resourceType": "Observation", "status": "final", "subject": subject, "code": lab})
    hiv = {"coding": [{"system": ICD10, "code": "B20.1"}], "text": "HIV病"}
    b.post("Condition", {"resourceType": "Condition", "subject": subject, "code": hiv})
    return pid


def export(fhir, who, path: str = "Patient/$export", **query: str) -> dict[str, list[dict]]:  # noqa: ANN001
    """Kick off as `who`, run the job, and read its files back: type -> resources."""
    url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    accepted = fhir.as_(who).request("GET", url, **ASYNC)
    assert accepted.status == 202
    job_id = accepted.headers["Content-Location"].rsplit("/", 1)[1]
    job = runner.run_job(fhir.gate, job_id)
    assert job is not None and job.status == "completed", job
    folder = runner.job_folder(fhir.gate.settings, job_id)
    return {
        rtype: [orjson.loads(line) for line in (folder / f"{rtype}.ndjson").read_bytes().splitlines()]
        for rtype, _ in job.output
    }


def test_the_kick_off_needs_respond_async_and_refuses_what_it_cannot_honour(fhir) -> None:  # noqa: ANN001
    with pytest.raises(FhirError) as err:
        fhir.get("$export")
    assert err.value.status == 400 and "respond-async" in str(err.value)
    for query, status in (
        ("_type=Pateint", 400),
        ("_typeFilter=Observation%3Fcode=x", 501),
        ("_since=yesterday", 400),
    ):
        with pytest.raises(FhirError) as err:
            fhir.request("GET", f"$export?{query}", **ASYNC)
        assert err.value.status == status, query
    with pytest.raises(FhirError) as err:
        fhir.request("GET", "$export?_outputFormat=text/csv", **ASYNC)
    assert "_outputFormat" in str(err.value)


def test_the_administrator_exports_every_resource_once_by_type(fhir, record) -> None:  # noqa: ANN001
    files = export(fhir, fhir.who, "$export")
    assert [p["id"] for p in files["Patient"]] == [record]
    assert len(files["Observation"]) == 1 and len(files["Condition"]) == 1
    assert {r["resourceType"] for rs in files.values() for r in rs} == set(files)
    only = export(fhir, fhir.who, "$export", _type="Condition,Patient")
    assert set(only) == {"Condition", "Patient"}


def test_without_consent_another_member_exports_nothing_of_the_patient(fhir, record) -> None:  # noqa: ANN001
    assert export(fhir, DOC_A) == {}  # no file at all: not even a count leaks


def test_consent_opens_level_four_and_withdrawal_closes_it_on_the_next_export(fhir, record) -> None:  # noqa: ANN001
    consent = fhir.as_(HIS_B).post("Consent", consent_resource(record)).resource()
    files = export(fhir, DOC_A)
    assert set(files) == {"Patient", "Observation", "Consent"}  # HIV (level 5) is not named: withheld
    of(fhir.gate).drain()
    with fhir.gate.engine.connect() as conn:
        entry = conn.execute(
            select(audit_entry.c.entry)
            .join(audit_event, audit_event.c.seq == audit_entry.c.seq)
            .where(audit_event.c.action == "export")
            .order_by(audit_entry.c.seq.desc())
        ).first()
    event = orjson.loads(entry.entry)
    assert event["agent"][0]["policy"] == [f"Consent/{consent['id']}"]
    assert event["type"]["code"] == "110106"  # DICOM "Export"
    consent["status"] = "inactive"
    fhir.as_(HIS_B).put(f"Consent/{consent['id']}", consent)
    assert export(fhir, DOC_A) == {}


def test_a_level_five_class_is_exported_only_when_the_consent_names_it(fhir, record) -> None:  # noqa: ANN001
    fhir.as_(HIS_B).post("Consent", consent_resource(record, classes=("Patient", "Condition", "HIV")))
    files = export(fhir, DOC_A)
    assert [c["code"]["coding"][0]["code"] for c in files["Condition"]] == ["B20.1"]


def test_a_group_export_is_confined_to_its_members(fhir, record) -> None:  # noqa: ANN001
    other = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": "李"}]}).resource()["id"]
    group = {
        "resourceType": "Group",
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{other}"}}],
    }
    gid = fhir.post("Group", group).resource()["id"]
    files = export(fhir, fhir.who, f"Group/{gid}/$export")
    assert [p["id"] for p in files["Patient"]] == [other] and "Observation" not in files
    for who, group_id in ((DOC_A, gid), (fhir.who, "no-such-group")):
        with pytest.raises(FhirError) as err:  # a Group names patients: unseen without consent, like them
            fhir.as_(who).request("GET", f"Group/{group_id}/$export", **ASYNC)
        assert err.value.status == 404


def test_every_exported_page_is_audited_with_its_patients(fhir, gate, record) -> None:  # noqa: ANN001
    export(fhir, fhir.who)
    of(gate).drain()
    with gate.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_event.c.action).order_by(audit_event.c.seq))]
    assert actions[-2:] == ["export", "export"]  # the kick-off, then the page that left the gate
    from yilian.audit.access_log import patient_log

    with gate.engine.connect() as conn:
        assert "export" in [e.action for e in patient_log(conn, [record])]


def poll(client, url: str, headers: dict, seconds: float = 20.0):  # noqa: ANN001, ANN201
    """GET the status URL until the job is no longer running (202)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = client.get(url, headers=headers)
        if answer.status_code != 202 or time.monotonic() > deadline:
            return answer
        assert "resources written" in answer.headers["X-Progress"]
        time.sleep(0.05)


def test_the_http_protocol_status_manifest_files_and_strangers(client, tokens) -> None:  # noqa: ANN001
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    client.post(
        "/fhir/Patient",
        json={"resourceType": "Patient", "name": [{"family": "王"}]},
        headers={**admin, "Content-Type": "application/fhir+json"},
    )
    kick = client.get("/fhir/Patient/$export", headers={**admin, "Prefer": "respond-async"})
    assert kick.status_code == 202
    status_url = kick.headers["Content-Location"]
    path = status_url.split("/fhir", 1)[1]
    done = poll(client, f"/fhir{path}", admin)  # the server's exporter thread runs the job
    assert done.status_code == 200
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["request"].endswith("Patient/$export")
    [output] = manifest["output"]
    assert output["type"] == "Patient" and output["count"] == 1
    file_path = output["url"].split("/fhir", 1)[1]
    got = client.get(f"/fhir{file_path}", headers=admin)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/fhir+ndjson")
    assert orjson.loads(got.content.splitlines()[0])["name"][0]["family"] == "王"
    stranger = {"Authorization": f"Bearer {tokens['clinician']}"}
    for url in (f"/fhir{path}", f"/fhir{file_path}"):
        refused = client.get(url, headers=stranger)
        assert refused.status_code == 404 and refused.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir{path}").status_code == 401


def test_a_cancelled_job_is_never_run_leaves_no_files_and_answers_404(fhir, gate, record) -> None:  # noqa: ANN001
    job_id = fhir.request("GET", "$export", **ASYNC).headers["Content-Location"].rsplit("/", 1)[1]
    with gate.engine.begin() as conn:
        assert jobs.cancel(conn, job_id, fhir.who).status == "cancelled"  # what DELETE on the status URL does
        with pytest.raises(FhirError):
            jobs.cancel(conn, job_id, DOC_A)  # someone else's job does not exist for them
    assert runner.run_job(gate, job_id) is None  # cancelled jobs are never claimed
    assert not any(runner.job_folder(gate.settings, job_id).glob("*.ndjson"))
    with gate.engine.connect() as conn, pytest.raises(FhirError) as err:
        status_response(jobs.get(conn, job_id, fhir.who), "http://x/fhir")
    assert err.value.status == 404


def test_cancelling_over_http_answers_202_with_the_state(client, tokens) -> None:  # noqa: ANN001
    admin = {"Authorization": f"Bearer {tokens['admin']}", "Prefer": "respond-async"}
    path = client.get("/fhir/$export", headers=admin).headers["Content-Location"].split("/fhir", 1)[1]
    answer = client.delete(f"/fhir{path}", headers=admin)
    assert answer.status_code == 202 and answer.json()["resourceType"] == "OperationOutcome"
    stranger = {"Authorization": f"Bearer {tokens['clinician']}"}
    assert client.delete(f"/fhir{path}", headers=stranger).status_code == 404


def test_a_job_interrupted_by_a_stop_runs_again_when_the_server_starts(fhir, gate, record) -> None:  # noqa: ANN001
    accepted = fhir.request("GET", "Patient/$export", **ASYNC)
    job_id = accepted.headers["Content-Location"].rsplit("/", 1)[1]
    with gate.engine.begin() as conn:  # as if the server died while running it
        conn.execute(update(export_jobs).values(status="running"))
    exporter = runner.Exporter(gate, poll_seconds=0.05)
    exporter.start()
    try:
        for _ in range(200):
            with gate.engine.connect() as conn:
                status = conn.execute(select(export_jobs.c.status)).scalar_one()
            if status == "completed":
                break
            time.sleep(0.05)
    finally:
        exporter.stop()
    assert status == "completed"
    assert (runner.job_folder(gate.settings, job_id) / "Patient.ndjson").exists()


def test_the_cli_exports_as_a_named_user_with_a_summary(
    settings, engine, fhir, record, tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    from yilian.cli import common
    from yilian.cli.main import app
    from yilian.gate.users import add_user

    add_user(engine, "dr.a", "王医生", "m-a", ["clinician"])
    monkeypatch.setenv("YILIAN_DATABASE_URL", settings.database_url)
    common.settings.cache_clear()
    common.gate.cache_clear()
    result = CliRunner().invoke(app, ["export", str(tmp_path / "out"), "--patients", "--user", "dr.a"])
    assert result.exit_code == 0, result.output
    assert "0 resources in 0 files" in result.output  # no consent: nothing
    result = CliRunner().invoke(app, ["export", str(tmp_path / "all"), "--type", "Patient,Condition"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "all" / "Condition.ndjson").read_bytes().splitlines()
    assert orjson.loads(lines[0])["subject"]["reference"] == f"Patient/{record}"
    refused = CliRunner().invoke(app, ["export", str(tmp_path / "all")])
    assert refused.exit_code == 1 and "choose an empty folder" in refused.output
    common.settings.cache_clear()
    common.gate.cache_clear()

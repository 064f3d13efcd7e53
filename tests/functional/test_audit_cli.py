"""`yilian audit ...` in-process against a temporary SQLite database: fold, verify (and its verdict on a
tampered log), proofs checked offline, countersigning, incidents."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from yilian.audit.tables import audit_entry
from yilian.cli import common
from yilian.cli.main import app
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch) -> Path:  # noqa: ANN001
    db = tmp_path / "cli.db"
    monkeypatch.setenv("YILIAN_DATABASE_URL", f"sqlite:///{db}")
    common.settings.cache_clear()
    common.gate.cache_clear()
    assert run("db", "upgrade").exit_code == 0
    gate = common.gate()
    pid = handle(
        gate, operator(), FhirRequest("POST", "Patient", body={"resourceType": "Patient"})
    ).resource()["id"]
    for _ in range(5):
        handle(gate, operator(), FhirRequest("GET", f"Patient/{pid}"))
    yield db
    common.settings.cache_clear()
    common.gate.cache_clear()


def run(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_fold_then_verify(cli_db) -> None:  # noqa: ANN001
    assert "Folded 6 events" in run("audit", "fold").output
    verdict = run("audit", "verify")
    assert verdict.exit_code == 0 and "6 entries" in verdict.output


def test_verify_names_the_tampered_entry(cli_db) -> None:  # noqa: ANN001
    run("audit", "fold")
    with common.gate().engine.begin() as conn:
        conn.execute(update(audit_entry).where(audit_entry.c.seq == 4).values(entry=b"{}"))
    verdict = runner.invoke(app, ["audit", "verify"])
    assert verdict.exit_code == 1
    assert "first tampered entry: entry #3" in verdict.output.replace("\n", " ")


def test_a_proof_checks_out_offline_and_a_member_countersigns(cli_db, tmp_path) -> None:  # noqa: ANN001
    run("audit", "fold")
    proof = tmp_path / "proof.json"
    proof.write_text(run("audit", "proof", "2").output)
    assert json.loads(proof.read_text())["leafIndex"] == 2
    assert run("audit", "check-proof", str(proof)).exit_code == 0
    key = tmp_path / "member.key"
    public = json.loads(run("audit", "keygen", str(key)).output)
    pub_file = tmp_path / "member.pub"
    pub_file.write_text(json.dumps(public))
    assert run("audit", "witness", "add", "m-a", "--public-key", str(pub_file)).exit_code == 0
    note = tmp_path / "head.txt"
    note.write_text(run("audit", "head").output)
    signed = tmp_path / "signed.txt"
    signed.write_text(run("audit", "countersign", str(note), "--key", str(key), "--name", "m-a").output)
    assert "Countersigned by m-a" in run("audit", "cosign", str(signed)).output
    assert run("audit", "verify", "--checkpoint", str(signed)).exit_code == 0


def test_incident_record_report_notify(cli_db) -> None:  # noqa: ANN001
    start = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - 3600))
    end = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() + 3600))
    made = run(
        "audit",
        "incident",
        "record",
        "--title",
        "测试事件",
        "--start",
        start,
        "--end",
        end,
        "--user",
        "operator",
    )
    assert "affected patients: 1" in made.output
    incident_id = made.output.split("Incident ")[1].split(" ")[0]
    assert "1 patients notified" in run("audit", "incident", "notify", incident_id).output
    report = json.loads(run("audit", "incident", "report", incident_id, "--json").output)
    assert report["affectedPatients"] == 1 and report["notified"] == 1

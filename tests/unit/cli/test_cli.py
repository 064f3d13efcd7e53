"""The `yilian` command line, run in-process against a temporary SQLite database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from yilian.cli import common
from yilian.cli.main import app
from yilian.config import Settings

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("YILIAN_DATABASE_URL", f"sqlite:///{db}")
    common.settings.cache_clear()
    common.gate.cache_clear()
    yield db
    common.settings.cache_clear()
    common.gate.cache_clear()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def bundle(*resources: dict) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}} for r in resources
            ],
        }
    )


def test_db_upgrade_then_load_files_and_ndjson(cli_db, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.json").write_bytes(bundle({"resourceType": "Patient", "gender": "male"}))
    (folder / "b.ndjson").write_bytes(
        b'{"resourceType":"Patient","id":"n1"}\n{"resourceType":"Patient","id":"n2"}\n'
    )
    result = run("load", str(folder), "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "3 entries" in result.output and "3 created" in result.output
    again = run("load", str(folder / "b.ndjson"), "--workers", "0")
    assert "2 matched existing or updated" in again.output  # NDJSON with ids is PUT: no duplicates


def test_load_reports_rejected_bundles_readably(cli_db, tmp_path):
    run("db", "upgrade")
    bad = tmp_path / "bad.json"
    bad.write_bytes(bundle({"resourceType": "Patient", "birthDate": "1990-02-30"}))
    result = run("load", str(bad), "--workers", "0")
    assert result.exit_code == 1
    assert "1 sources rejected" in result.output
    assert "birthDate" in result.output
    missing = run("load", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1 and "No such file" in missing.output


def test_load_with_workers_gives_the_same_result(cli_db, tmp_path):
    run("db", "upgrade")
    for i in range(3):
        (tmp_path / f"p{i}.json").write_bytes(bundle({"resourceType": "Patient", "gender": "female"}))
    result = run("load", *(str(tmp_path / f"p{i}.json") for i in range(3)), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output


def test_demo_seeds_members_and_prints_tokens(cli_db):
    result = run("demo", "--patients", "4", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "demo-clinician" in result.output and "8 members" in result.output


def test_users_add_rejects_unknown_roles(cli_db):
    run("db", "upgrade")
    bad = run("users", "add", "x", "--name", "X", "--role", "wizard")
    assert bad.exit_code == 1 and "Unknown role" in bad.output
    ok = run("users", "add", "dr.sun", "--name", "孙医生", "--org", "m-1", "--role", "clinician")
    assert ok.exit_code == 0 and "Access token" in ok.output
    assert "dr.sun" in run("users", "list").output
    with_password = runner.invoke(
        app,
        ["users", "add", "dr.he", "--name", "何医生", "--role", "clinician", "--password"],
        input="pw-长密码\npw-长密码\n",
    )
    assert with_password.exit_code == 0
    from yilian.gate.tokens import check_password

    assert check_password(common.gate().engine, "dr.he", "pw-长密码").id == "dr.he"


def test_every_setting_is_documented_and_listed(cli_db):
    output = run("settings").output
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"YILIAN_{name.upper()}" in output


def test_readme_documents_every_command():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for command in (
        "yilian serve",
        "yilian load",
        "yilian demo",
        "yilian db upgrade",
        "yilian users",
        "yilian settings",
        "make run",
        "make test",
    ):
        assert command in readme


def test_a_database_not_yet_upgraded_is_refused_readably(cli_db, tmp_path):
    """Every command but `db upgrade` (and those that upgrade themselves) checks the schema first."""
    (tmp_path / "p.json").write_bytes(bundle({"resourceType": "Patient", "gender": "male"}))
    for args in (("load", str(tmp_path / "p.json")), ("ingest", "dead-letters"), ("users", "list")):
        result = run(*args)
        assert result.exit_code == 1, args
        assert "yilian db upgrade" in result.output and "Traceback" not in result.output, args
    assert run("db", "upgrade").exit_code == 0
    common.gate.cache_clear()
    assert run("load", str(tmp_path / "p.json"), "--workers", "0").exit_code == 0

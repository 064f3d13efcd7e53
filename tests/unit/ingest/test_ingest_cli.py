"""`yilian ingest ...` and `yilian demo --truth-out`, in-process against a temporary SQLite database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from v2_fixtures import oru

from yilian.cli import common
from yilian.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    monkeypatch.setenv("YILIAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.settings.cache_clear()
    common.gate.cache_clear()
    yield tmp_path
    common.settings.cache_clear()
    common.gate.cache_clear()


def run(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_file_dead_letters_replay_and_quality(cli_db):
    truth = cli_db / "truth.json"
    assert run("demo", "--patients", "3", "--seed", "5", "--truth-out", str(truth)).exit_code == 0
    assert len(json.loads(truth.read_text())) == 3  # person -> [(member, MRN)], kept aside for linkage
    messages = cli_db / "lab.hl7"
    messages.write_text(
        oru("X1").replace("m-a", "m-tertiary-1") + oru("X2", glucose="??").replace("m-a", "m-tertiary-1")
    )
    result = run("ingest", "file", str(messages))  # the member comes from MSH-4
    assert result.exit_code == 1
    assert "2 messages" in result.output and "1 processed" in result.output and "1 rejected" in result.output
    letters = run("ingest", "dead-letters", "--member", "m-tertiary-1")
    assert "X2" in letters.output and "not a number" in letters.output
    message_id = next(line.split()[1] for line in letters.output.splitlines() if "X2" in line)
    shown = run("ingest", "dead-letters", "--show", message_id)
    assert "OBX|1|NM|GLU" in shown.output
    fixed = cli_db / "fixed.hl7"
    fixed.write_text(oru("X2").replace("m-a", "m-tertiary-1"))
    replayed = run("ingest", "replay", message_id, "--fixed", str(fixed))
    assert replayed.exit_code == 0 and "1 processed" in replayed.output
    quality = run("ingest", "quality", "--member", "m-tertiary-1")
    assert "Completeness" in quality.output and "ORU^R01" in quality.output and "timeliness" in quality.output
    assert run("ingest", "replay").exit_code == 1  # nothing named


def test_csv_file_with_mapping_and_code_tables(cli_db):
    run("db", "upgrade")
    run("demo", "--patients", "2", "--seed", "5")
    mapping = cli_db / "m.toml"
    mapping.write_text(
        '[files.patients]\nmatch = "*"\n[files.patients.columns]\nmrn = "档案号"\nname = "姓名"\n',
        encoding="utf-8",
    )
    data = cli_db / "people.csv"
    data.write_text("档案号,姓名\nZ1,赵六\n,无档案号\n", encoding="utf-8")
    result = run("ingest", "file", str(data), "--member", "m-community-1", "--mapping", str(mapping))
    assert "Mapping of m-community-1 saved" in result.output
    assert "1 processed" in result.output and "档案号 is empty" in result.output
    codes = cli_db / "codes.toml"
    codes.write_text('[codes.lab]\nGLU = "14771-0"\n', encoding="utf-8")
    assert "1 local codes mapped" in run("ingest", "codes", "m-tertiary-1", str(codes)).output
    bad = run("ingest", "file", str(cli_db / "nope.csv"))
    assert bad.exit_code == 1 and "No such file" in bad.output

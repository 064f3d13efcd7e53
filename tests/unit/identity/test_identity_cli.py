"""`yilian identity ...` in-process against a temporary SQLite database."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from yilian.cli import common
from yilian.cli.main import app

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    monkeypatch.setenv("YILIAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    common.settings.cache_clear()
    common.gate.cache_clear()
    yield
    common.settings.cache_clear()
    common.gate.cache_clear()


def run(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_batch_link_thresholds_reviews_and_training(cli_db):
    run("demo", "--patients", "12")
    with common.gate().engine.begin() as conn:  # as if the index had been lost: link rebuilds it
        for table in ("mpi_links", "mpi_keys", "mpi_records", "mpi_persons"):
            conn.execute(text(f"DELETE FROM {table}"))
    out = run("identity", "link")
    assert "auto_links" in out and "Indexed" in out
    with common.gate().engine.connect() as conn:
        records, persons = conn.execute(
            text("SELECT count(*), count(DISTINCT person_id) FROM mpi_records")
        ).one()
    assert records > persons >= 12
    assert "14.0" in run("identity", "thresholds", "--auto", "14", "--review", "5")
    run("identity", "reviews")
    assert "trained on" in run("identity", "train", "--synthetic", "3000")
    bad = runner.invoke(app, ["identity", "thresholds", "--auto", "1", "--review", "5"])
    assert bad.exit_code == 1

"""Bulk loading through worker processes (yilian load's path): plans made in workers, applied by one
writer, with conditional creates matched across Bundles and references moved to the matches."""

from __future__ import annotations

import os
import tarfile
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from yilian.gate.caller import operator
from yilian.ingest import bulk, fhir_files
from yilian.ingest.bulk import load_paths
from yilian.ingest.fhir_files import iter_sources
from yilian.store import dialect, repository
from yilian.store.rows import batch_of, prepare

ORG_ID = {"system": "urn:uscc", "value": "12330100"}
PATIENTS = {"a": "110101199001011234", "b": "110101198505052345"}


def _entry(full_url: str, resource: dict, if_none_exist: str | None = None) -> dict:
    request = {"method": "POST", "url": resource["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return {"fullUrl": full_url, "resource": resource, "request": request}


def _visit_bundle(who: str, visit: int) -> dict:
    """One visit of a patient: the shared hospital and the patient as conditional creates (so every
    Bundle after the first matches them), an Encounter and an Observation referencing both."""
    org = {"resourceType": "Organization", "identifier": [ORG_ID], "name": "滨江市第一人民医院"}
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:resident", "value": PATIENTS[who]}],
        "name": [{"family": "赵", "given": [who]}],
        "managingOrganization": {"reference": "urn:uuid:org"},
    }
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "urn:uuid:pat"},
        "serviceProvider": {"reference": "urn:uuid:org"},
    }
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "urn:uuid:pat"},
        "encounter": {"reference": "urn:uuid:enc"},
        "valueQuantity": {"value": 60 + visit, "unit": "/min"},
    }
    entries = [
        _entry("urn:uuid:org", org, "identifier=urn:uscc|12330100"),
        _entry("urn:uuid:pat", patient, f"identifier=urn:resident|{PATIENTS[who]}"),
        _entry("urn:uuid:enc", encounter),
        _entry("urn:uuid:obs", observation),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _write_visits(folder: Path) -> None:
    folder.mkdir()
    for i, who in enumerate(["a", "b", "a", "b"]):
        (folder / f"visit-{i}.json").write_bytes(orjson.dumps(_visit_bundle(who, i)))


def _ids(fhir, url: str) -> list[str]:  # noqa: ANN001 - the test client
    return [e["resource"]["id"] for e in fhir.get(url).resource().get("entry", [])]


def test_workers_match_conditional_creates_and_move_references(gate, fhir, tmp_path):
    _write_visits(tmp_path / "visits")
    stats = load_paths(gate, operator(), [tmp_path / "visits"], workers=2)
    assert stats.errors == []
    assert (stats.created, stats.matched) == (1 + 2 + 4 + 4, 3 + 2)
    [org] = _ids(fhir, "Organization")
    patients = _ids(fhir, "Patient")
    assert len(patients) == 2
    # The matched creates' references point at what they matched: in the JSON, the search index...
    encounters = fhir.get("Encounter").resource()["entry"]
    assert {e["resource"]["serviceProvider"]["reference"] for e in encounters} == {f"Organization/{org}"}
    assert {e["resource"]["subject"]["reference"] for e in encounters} == {f"Patient/{p}" for p in patients}
    assert len(_ids(fhir, f"Encounter?service-provider=Organization/{org}")) == 4
    for pid in patients:
        assert len(_ids(fhir, f"Observation?subject=Patient/{pid}")) == 2
        # ... and the Patient compartment: both visits, and the hospital they reference.
        everything = fhir.get(f"Patient/{pid}/$everything").resource()["entry"]
        kinds = sorted(e["resource"]["resourceType"] for e in everything)
        assert kinds == ["Encounter", "Encounter", "Observation", "Observation", "Organization", "Patient"]


def test_one_process_and_workers_store_the_same(gate, fhir, tmp_path):
    _write_visits(tmp_path / "visits")
    load_paths(gate, operator(), [tmp_path / "visits"], workers=0)
    again = load_paths(gate, operator(), [tmp_path / "visits"], workers=2)
    # Every conditional create now matches what the first load stored; the visits are new again.
    assert again.errors == [] and (again.created, again.matched) == (8, 8)
    assert len(_ids(fhir, "Organization")) == 1 and len(_ids(fhir, "Patient")) == 2
    assert fhir.get("Observation?code=8867-4&_summary=count").resource()["total"] == 8


def test_groups_written_before_they_are_full_store_the_same(gate, fhir, tmp_path, monkeypatch):
    """The writer writes what is ready when the workers have not planned the next source yet: here
    every Bundle is a group of its own, so later Bundles match the earlier ones in the database."""
    monkeypatch.setattr(bulk, "MIN_GROUP_ENTRIES", 1)
    monkeypatch.setattr(bulk._Feed, "waiting", lambda self: True)
    groups = []
    apply_group = bulk._apply_group
    monkeypatch.setattr(bulk, "_apply_group", lambda *a: (groups.append(len(a[2])), apply_group(*a)))
    _write_visits(tmp_path / "visits")
    stats = load_paths(gate, operator(), [tmp_path / "visits"], workers=2)
    assert [n for n in groups if n] == [1, 1, 1, 1]
    assert stats.errors == [] and (stats.created, stats.matched) == (1 + 2 + 4 + 4, 3 + 2)
    assert len(_ids(fhir, "Organization")) == 1 and len(_ids(fhir, "Patient")) == 2
    assert fhir.get("Observation?code=8867-4&_summary=count").resource()["total"] == 4


def test_an_archive_loads_in_its_own_order(gate, fhir, tmp_path):
    """Archives are streamed: their files are read in the order they were added, each one once."""
    _write_visits(tmp_path / "visits")
    archive = tmp_path / "visits.tar.gz"
    order = ["visit-3.json", "visit-0.json", "notes.txt", "visit-2.json", "visit-1.json"]
    (tmp_path / "visits" / "notes.txt").write_text("not FHIR")
    with tarfile.open(archive, "w:gz") as tar:
        for name in order:
            tar.add(tmp_path / "visits" / name, arcname=f"export/{name}")
    sources = [s.name for s in iter_sources([archive])]
    assert sources == [f"visits.tar.gz:export/{n}" for n in order if n.endswith(".json")]
    stats = load_paths(gate, operator(), [archive], workers=0)
    assert stats.errors == [] and stats.bundles == 4 and stats.created == 1 + 2 + 4 + 4
    assert fhir.get("Observation?code=8867-4&_summary=count").resource()["total"] == 4


def _archive_of_visits(tmp_path: Path) -> Path:
    _write_visits(tmp_path / "visits")
    archive = tmp_path / "visits.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(4):
            tar.add(tmp_path / "visits" / f"visit-{i}.json", arcname=f"visit-{i}.json")
    return archive


def test_sources_say_how_far_into_the_input_they_were_read(tmp_path):
    """Progress is measured in bytes of the files as stored (an archive compressed), so the total is
    known without reading anything: each source tells how far into the input it was read."""
    archive = _archive_of_visits(tmp_path)
    single = tmp_path / "visits" / "visit-0.json"
    total = fhir_files.input_size([single, archive])
    assert total == single.stat().st_size + archive.stat().st_size
    read = [s.read_to for s in iter_sources([single, archive])]
    assert read[0] == single.stat().st_size
    assert read == sorted(read) and single.stat().st_size < read[1] <= total and read[-1] <= total
    assert fhir_files.input_files([tmp_path / "visits"]) == sorted((tmp_path / "visits").glob("*.json"))


def test_the_total_needs_no_reading(tmp_path):
    """The total comes from the files' sizes: an archive that cannot even be opened still has one (its
    error comes when the load reaches it, as before)."""
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not gzip at all")
    assert fhir_files.input_size([broken]) == len(b"not gzip at all")
    with pytest.raises(tarfile.TarError):
        list(iter_sources([broken]))


@pytest.mark.parametrize("workers", [0, 2])
def test_progress_reaches_the_end_of_the_input(gate, tmp_path, workers):
    archive = _archive_of_visits(tmp_path)
    seen: list[tuple[int, int]] = []
    stats = load_paths(
        gate,
        operator(),
        [archive],
        workers=workers,
        on_progress=lambda s: seen.append((s.read_bytes, s.bundles)),
    )
    assert stats.bundles == 4 and stats.errors == []
    assert seen and seen == sorted(seen)
    assert 0 < seen[-1][0] <= archive.stat().st_size and seen[-1][1] == 4
    assert seen[-1][0] >= archive.stat().st_size - 10240  # all but tar's zero padding, read in 10 KiB records


def test_rows_are_keyed_one_by_one_when_rids_are_not_one_block(gate, monkeypatch):
    """PostgreSQL's sequence may interleave another writer's keys: each row then gets its own rid."""
    scattered = [900, 905, 910]
    monkeypatch.setattr(dialect, "allocate_rids", lambda conn, n: scattered[:n])
    resources = [{"resourceType": "Patient", "name": [{"family": family}]} for family in ("钱", "孙", "李")]
    batch = batch_of(
        [
            prepare(r, rid=0, rid_id=f"p{i}", version=1, now=1.7e9, member=None)
            for i, r in enumerate(resources)
        ]
    )
    with gate.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        stored = repository.insert_batch(conn, batch)
        rows = conn.execute(text("SELECT rid, id FROM resources WHERE rid >= 900 ORDER BY rid")).all()
        names = conn.execute(text("SELECT rid, value FROM idx_string WHERE rid >= 900")).all()
        compartments = conn.execute(text("SELECT rid, patient_id FROM compartment WHERE rid >= 900")).all()
    assert [s.rid for s in stored] == scattered
    assert [tuple(r) for r in rows] == [(900, "p0"), (905, "p1"), (910, "p2")]
    assert {rid for rid, _ in names} == set(scattered)
    assert sorted(tuple(r) for r in compartments) == [(900, "p0"), (905, "p1"), (910, "p2")]


def test_background_checkpoints_copy_the_wal_back(gate, backend):
    if backend != "sqlite":
        pytest.skip("a SQLite write-ahead log")
    with (
        dialect.background_checkpoints(gate.engine) as engine,
        engine.connect().execution_options(**dialect.write_options()) as conn,
        conn.begin(),
    ):
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        conn.exec_driver_sql("CREATE TABLE filler (x BLOB)")
        conn.exec_driver_sql("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
    assert pages == 0  # the writer left checkpoints to the thread...
    with gate.engine.connect() as conn:
        _busy, frames, copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        pages_after = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    # ...which copied every frame back before the block ended; ordinary writers checkpoint again.
    assert frames > 0 and frames == copied
    assert pages_after == dialect.WAL_AUTOCHECKPOINT


def test_a_checkpoint_can_be_asked_for_before_its_turn(gate, backend, monkeypatch):
    """A bulk writer asks for one before its last group (dialect.checkpoint_soon): the WAL's pages reach
    the database file long before the next turn."""
    if backend != "sqlite":
        pytest.skip("a SQLite write-ahead log")
    monkeypatch.setattr(dialect, "CHECKPOINT_EVERY_S", 3600)
    path = gate.engine.url.database
    with dialect.background_checkpoints(gate.engine) as engine:
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            conn.exec_driver_sql("CREATE TABLE filler (x BLOB)")
            conn.exec_driver_sql("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(500)])
        before = os.path.getsize(path)  # the rows are in the WAL only
        dialect.checkpoint_soon(engine)
        deadline = time.monotonic() + 30
        while os.path.getsize(path) < before + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.path.getsize(path) >= before + 1_000_000
    dialect.checkpoint_soon(gate.engine)  # an engine without background checkpoints: nothing to ask

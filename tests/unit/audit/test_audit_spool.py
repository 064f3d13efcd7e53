"""The read-path spool: a record is durable in a segment file as soon as `append` returns, drained into the
store exactly once, torn tails are detected, and segments are deleted only once final and drained."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import orjson
import pytest
from audit_helpers import event
from sqlalchemy import func, select

from yilian.audit import spool as spool_module
from yilian.audit.events import Facts, shape
from yilian.audit.record import shape_spooled
from yilian.audit.spool import Spool, drain_legacy, frame, records
from yilian.audit.tables import audit_entry, audit_event, audit_patient


def facts(i: int, patient: str = "p1") -> bytes:
    return Facts(
        recorded=1_700_000_000.0 + i,
        user_id="dr.li",
        user_name="李医生",
        organization="m-a",
        roles=["clinician"],
        purpose="TREAT",
        as_patient=False,
        writing=False,
        action="read",
        status=200,
        error=None,
        path=f"Observation/o{i}",
        query=[],
        results=1,
        resources=[("Observation", f"o{i}", 1)],
        consents=[],
        break_glass=None,
        patients=[patient],
    ).pack()


def stored(engine) -> list[str]:  # noqa: ANN001
    """The stored events' resource paths, in seq order."""
    with engine.connect() as conn:
        entries = conn.execute(select(audit_entry.c.entry).order_by(audit_entry.c.seq)).scalars()
        return [orjson.loads(e)["entity"][1]["what"]["reference"] for e in entries]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "db.audit-spool.d")


def test_spooled_facts_are_shaped_and_drained_once(spool, engine) -> None:  # noqa: ANN001
    for i in range(5):
        spool.append(facts(i))
    assert spool.count(engine) == 5
    assert spool.drain(engine, shape_spooled) == 5 and spool.count(engine) == 0
    assert stored(engine) == [f"Observation/o{i}/_history/1" for i in range(5)]
    assert spool.drain(engine, shape_spooled) == 0 and len(stored(engine)) == 5
    with engine.connect() as conn:
        assert conn.execute(select(audit_patient.c.patient_id)).scalars().all() == ["p1"] * 5


def test_a_spooled_record_is_the_same_event_as_one_recorded_at_once() -> None:
    packed = Facts.unpack(facts(7, patient="p9"))
    a, b = shape(packed, {"p9"}), shape(Facts.unpack(packed.pack()), {"p9"})
    one, other = orjson.loads(a.entry), orjson.loads(b.entry)
    assert one.pop("id") != other.pop("id")  # each shaping names a new AuditEvent; nothing else differs
    assert one == other and a.row() == b.row()


def test_a_failed_drain_copies_nothing_and_the_next_one_copies_everything(spool, engine) -> None:  # noqa: ANN001
    for i in range(3):
        spool.append(facts(i))

    def broken(conn, payloads):  # noqa: ANN001, ANN202 - fails inside the store transaction
        shape_spooled(conn, payloads)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        spool.drain(engine, broken)
    assert stored(engine) == [] and spool.count(engine) == 3
    assert spool.drain(engine, shape_spooled) == 3 and len(stored(engine)) == 3


def test_a_crash_after_the_store_commit_copies_nothing_twice(spool, engine, monkeypatch) -> None:  # noqa: ANN001
    for i in range(4):
        spool.append(facts(i))
    spool.close()  # the writer is gone: the drain will delete the segment once it is copied

    def killed(path, end):  # noqa: ANN001, ANN202 - the process dies before deleting the file
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(spool_module, "_forget", killed)
    with pytest.raises(KeyboardInterrupt):
        spool.drain(engine, shape_spooled)
    monkeypatch.undo()
    assert len(stored(engine)) == 4 and len(spool.segments()) == 1  # copied, file still there
    assert spool.drain(engine, shape_spooled) == 0 and len(stored(engine)) == 4
    assert spool.segments() == []


def test_a_segment_still_held_by_a_writer_is_kept_and_deleted_once_released(spool, engine, tmp_path) -> None:  # noqa: ANN001
    spool.append(facts(1))
    other = Spool(spool.folder)  # another process draining the same folder
    assert other.drain(engine, shape_spooled) == 1
    assert len(spool.segments()) == 1  # its writer holds it: more records may come
    spool.append(facts(2))
    assert other.drain(engine, shape_spooled) == 1
    spool.close()  # the writer stops (or is killed: the kernel releases its lock the same way)
    assert other.drain(engine, shape_spooled) == 0 and spool.segments() == []
    spool.append(facts(3))  # writing again opens a new segment
    assert other.drain(engine, shape_spooled) == 1
    assert stored(engine) == [f"Observation/o{i}/_history/1" for i in (1, 2, 3)]


def test_a_torn_record_ends_what_is_read_and_is_dropped_once_final(spool, engine, caplog) -> None:  # noqa: ANN001
    spool.append(facts(1))
    spool.append(facts(2))
    (segment,) = spool.segments()
    whole = frame(facts(3))
    with open(segment, "ab") as f:  # a record cut short by a power cut, and garbage after it
        f.write(whole[: len(whole) // 2])
    assert spool.count(engine) == 2
    found, end = records(segment, 0, 100)
    assert len(found) == 2 and end == segment.stat().st_size - len(whole) // 2
    spool.close()
    with caplog.at_level(logging.WARNING):
        assert spool.drain(engine, shape_spooled) == 2
    assert "dropped" in caplog.text and spool.segments() == []


def test_a_damaged_record_is_not_taken_for_an_event(spool, engine) -> None:  # noqa: ANN001
    spool.append(facts(1))
    spool.append(facts(2))
    (segment,) = spool.segments()
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte in the second record's payload
    segment.write_bytes(bytes(data))
    assert [Facts.unpack(p).path for p in records(segment, 0, 100)[0]] == ["Observation/o1"]


def test_zeros_are_not_records(tmp_path: Path) -> None:
    segment = tmp_path / "zeros.seg"
    segment.write_bytes(bytes(4096))  # what a power cut can leave where data was not yet written
    assert records(segment, 0, 100) == ([], 0)


def test_the_spool_of_an_earlier_version_is_drained_once_then_removed(tmp_path, engine) -> None:  # noqa: ANN001
    path = tmp_path / "db.audit-spool"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, event BLOB NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('name', 'db.audit-spool-0123')")
    for i in range(3):
        e = event(i, patients=("p7",))
        head = orjson.dumps(
            [e.recorded, e.user_id, e.member, e.action, e.outcome, e.purpose, e.break_glass, ["p7"]]
        )
        db.execute("INSERT INTO spool (event) VALUES (?)", (len(head).to_bytes(4, "big") + head + e.entry,))
    db.close()
    assert drain_legacy(path, engine) == 3 and not path.exists()
    assert drain_legacy(path, engine) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_event)).scalar_one() == 3
        assert conn.execute(select(audit_patient.c.patient_id)).scalars().all() == ["p7"] * 3


def test_concurrent_appends_are_each_recorded_whole(spool, engine) -> None:  # noqa: ANN001
    def append_many(t: int) -> None:
        for i in range(100):
            spool.append(facts(t * 1000 + i))

    threads = [threading.Thread(target=append_many, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spool.drain(engine, shape_spooled) == 800
    expected = {f"Observation/o{t * 1000 + i}/_history/1" for t in range(8) for i in range(100)}
    assert sorted(stored(engine)) == sorted(expected)


def test_a_drain_while_a_writer_starts_a_segment_loses_nothing(spool, engine, monkeypatch) -> None:  # noqa: ANN001
    """A writer starting a segment creates the file, then locks it: a drain in between (another thread of a
    busy server, the writer waiting for the GIL) took the unlocked file for a stopped writer's, drained it
    and deleted it, and every record then appended went to a deleted file (the crash test caught it)."""
    locking = spool_module.fcntl.flock
    state: dict = {"drained": None, "inside": False}

    def flock_after_a_drain(fd: int, op: int) -> None:
        if state["drained"] is None and not state["inside"]:  # the writer's first lock: drain right before
            state["inside"] = True
            state["drained"] = spool.drain(engine, shape_spooled)  # (its own flock calls pass through)
            state["inside"] = False
        locking(fd, op)

    monkeypatch.setattr(spool_module.fcntl, "flock", flock_after_a_drain)
    for i in range(3):
        spool.append(facts(i))
    monkeypatch.setattr(spool_module.fcntl, "flock", locking)
    assert state["drained"] == 0
    spool.close()
    assert spool.drain(engine, shape_spooled) == 3
    assert stored(engine) == [f"Observation/o{i}/_history/1" for i in range(3)]

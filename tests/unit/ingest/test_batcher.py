"""Group commit for real-time feeds: senders that arrive together are ingested as one batch, each gets
back its own results in order, and an error reaches every sender of the batch."""

from __future__ import annotations

import queue
import threading
import time
import types

import pytest
from sqlalchemy import create_engine

from yilian.config import Settings
from yilian.gate.repository import Gate
from yilian.ingest import batcher
from yilian.ingest.batcher import Batcher
from yilian.ingest.pipeline import Result
from yilian.ingest.store import Incoming


def _gate() -> Gate:
    """A gate on an empty in-memory database (the batcher's ingest is faked: it is only passed along)."""
    return Gate(create_engine("sqlite://"), Settings(_env_file=None))


def _item(n: int) -> Incoming:
    return Incoming("m-a", "hl7v2", "ORU^R01", f"message {n}".encode(), control_id=f"C{n}")


class _SlowIngest:
    """Stands in for pipeline.ingest: remembers each batch, takes a while so others queue meanwhile."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[bytes]] = []
        self.fail = fail

    def __call__(self, gate, items):  # noqa: ANN001, ANN204
        self.batches.append([i.payload for i in items])
        time.sleep(0.05)
        if self.fail:
            raise RuntimeError("database is gone")
        return [Result(n, "processed", resources=len(i.payload)) for n, i in enumerate(items)]


@pytest.fixture
def batching(monkeypatch):  # noqa: ANN201
    """A Batcher whose ingest is a _SlowIngest: (the fake, the batcher), closed afterwards."""
    fake = _SlowIngest()
    monkeypatch.setattr(batcher, "ingest", fake)
    b = Batcher(_gate())
    yield fake, b
    b.close()


def _at_once(senders: int, send) -> None:  # noqa: ANN001 - send(k)
    """Run send(0..senders-1) in threads that start together; return when all are done."""
    start = threading.Barrier(senders)

    def run(k: int) -> None:
        start.wait()
        send(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _send_together(b: Batcher, senders: int, per_sender: int) -> list[list[Result] | BaseException]:
    out: list = [None] * senders

    def send(k: int) -> None:
        try:
            out[k] = b.ingest_now([_item(k * 100 + j) for j in range(per_sender)])
        except RuntimeError as err:
            out[k] = err

    _at_once(senders, send)
    return out


def test_senders_arriving_together_share_a_batch_and_get_their_own_results(batching):
    fake, b = batching
    out = _send_together(b, senders=8, per_sender=2)
    assert len(fake.batches) < 8  # the first is ingested alone at once; the others waited and went together
    assert sorted(p for batch in fake.batches for p in batch) == sorted(
        _item(k * 100 + j).payload for k in range(8) for j in range(2)
    )
    for k, results in enumerate(out):
        # each sender's results are its own messages' (the fake counts each payload's bytes), in order
        assert [r.resources for r in results] == [len(_item(k * 100 + j).payload) for j in range(2)]


def test_a_batch_is_never_larger_than_the_cap(batching, monkeypatch):
    fake, b = batching
    monkeypatch.setattr(batcher, "MAX_BATCH", 3)
    _send_together(b, senders=10, per_sender=1)
    assert max(len(batch) for batch in fake.batches) <= 3 and sum(map(len, fake.batches)) == 10


def test_an_error_reaches_every_sender_of_the_batch_and_the_next_batch_still_runs(batching):
    fake, b = batching
    fake.fail = True
    out = _send_together(b, senders=4, per_sender=1)
    assert all(isinstance(o, RuntimeError) and "database is gone" in str(o) for o in out)
    fake.fail = False
    assert [r.status for r in b.ingest_now([_item(1)])] == ["processed"]


def test_closed_batcher_refuses_at_once(monkeypatch):
    monkeypatch.setattr(batcher, "ingest", _SlowIngest())
    b = Batcher(_gate())
    b.close()
    with pytest.raises(RuntimeError, match="stopped"):
        b.ingest_now([_item(1)])


def test_senders_in_lock_step_keep_sharing_batches(batching, monkeypatch):
    """Four senders each send five messages, one at a time, each waiting for its answer (as HL7 senders
    do): the senders of a batch are waited for briefly, so they keep going together rather than the
    quickest alone, then the others, in turn (which would take about ten batches)."""
    fake, b = batching
    monkeypatch.setattr(batcher, "LINGER_S", 0.5)  # generous: a loaded test machine schedules slowly

    def sender(k: int) -> None:
        for j in range(5):
            b.ingest_now([_item(k * 100 + j)])

    _at_once(4, sender)
    assert sum(map(len, fake.batches)) == 20 and len(fake.batches) <= 7, [len(x) for x in fake.batches]


class _RecordingQueue(queue.Queue):
    """A queue that remembers how long each `get` was allowed to wait."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def get(self, block: bool = True, timeout: float | None = None):  # noqa: ANN201
        self.waits.append(timeout if block else 0)
        return super().get(block, timeout)


def test_a_lone_sender_is_not_kept_waiting(monkeypatch):
    """Gathering after a batch of one sender takes what is there and never waits for more; after a batch
    of two, it waits (up to LINGER_S) for the other."""
    monkeypatch.setattr(batcher, "LINGER_S", 0.01)
    gathering = types.SimpleNamespace(_queue=_RecordingQueue())
    first = batcher._Waiting([_item(1)])
    assert Batcher._gather(gathering, first, expected=1) == ([first], False)
    assert gathering._queue.waits == [0]  # get_nowait: nothing there, no waiting
    gathering._queue.waits.clear()
    assert Batcher._gather(gathering, first, expected=2) == ([first], False)
    assert gathering._queue.waits and 0 < gathering._queue.waits[0] <= 0.01


def test_the_batcher_leaves_sqlite_checkpoints_to_a_thread_of_their_own(gate, backend, monkeypatch):
    """Copying the WAL back (with its fsync) is kept off the path of a message waiting for its ACK."""
    if backend != "sqlite":
        pytest.skip("a SQLite write-ahead log")
    from yilian.store import dialect

    seen = []

    def ingest(g, items):  # noqa: ANN001, ANN202
        with g.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            seen.append(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())
        return [Result(0, "processed") for _ in items]

    monkeypatch.setattr(batcher, "ingest", ingest)
    b = Batcher(gate)
    try:
        b.ingest_now([_item(1)])
    finally:
        b.close()
    assert seen == [0]


def test_senders_that_fell_into_two_groups_are_brought_together(batching, monkeypatch):
    """Two senders answered together, two more arriving while they are: answered in turn, the two pairs
    would stay apart for good (batches of two); the batcher waits for the senders of its last two
    batches, so they merge into batches of four."""
    fake, b = batching
    monkeypatch.setattr(batcher, "LINGER_S", 0.5)
    plugged, release = threading.Event(), threading.Event()

    def ingest(gate, items):  # noqa: ANN001, ANN202 - holds the batcher on the plug until released
        if items[0].payload == b"plug":
            plugged.set()
            release.wait(5)
        return fake(gate, items)

    monkeypatch.setattr(batcher, "ingest", ingest)
    plug = threading.Thread(target=b.ingest_now, args=([Incoming("m-a", "hl7v2", "X", b"plug")],))
    plug.start()
    plugged.wait(5)

    def sender(offset: int, k: int) -> None:
        for j in range(5):
            b.ingest_now([_item(offset + k * 100 + j)])

    early = [threading.Thread(target=sender, args=(0, k)) for k in range(2)]
    for t in early:
        t.start()
    time.sleep(0.05)  # both early senders queued behind the plug: they go as one batch of two
    release.set()  # the plug's batch ends 0.05 s later; then the early pair's, 0.05 s more
    time.sleep(0.075)  # while the early pair is being ingested, the late pair arrives
    late = [threading.Thread(target=sender, args=(500, k)) for k in range(2)]
    for t in late:
        t.start()
    for t in [*early, *late, plug]:
        t.join()
    sizes = [len(x) for x in fake.batches]
    assert sizes[:2] == [1, 2] and sum(sizes) == 21, sizes  # the plug, the early pair
    assert sizes[2:].count(4) >= 3, sizes  # then the late pair and the early one together

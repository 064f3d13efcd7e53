"""Messages that arrive at the same time, ingested together (group commit).

A real-time feed (the MLLP listener) answers each message only once it is stored and written. Ingested one
by one, every message pays for three transactions, the member and code-table lookups and the audit of
its own, and connection threads queue for SQLite's one writer lock by sleeping in its busy handler: four
connections went slower together (91 messages/s) than one alone (110). Here every connection hands its
messages to one ingesting thread, which takes whatever has arrived meanwhile (up to MAX_BATCH messages)
and ingests it as one batch: a lone sender waits no longer than before, and many senders share the
fixed costs instead of queueing for the lock. Each sender gets back its own messages' results, in order.
The thread writes with SQLite's checkpoints in the background (copying the WAL back into the database,
with its fsync, was a fifth of a lone message's time: 5.8 -> 5.1-5.4 ms).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from yilian.gate.repository import Gate
from yilian.ingest.pipeline import Result, ingest
from yilian.ingest.store import Incoming
from yilian.store import dialect

MAX_BATCH = 500  # messages ingested together at most (one write transaction holds them all)
LINGER_S = 0.002  # how long the senders of the last two batches are waited for (see Batcher._gather)


@dataclass
class _Waiting:
    items: Sequence[Incoming]
    sender: int = field(default_factory=threading.get_ident)  # the sending thread (an MLLP connection)
    done: threading.Event = field(default_factory=threading.Event)
    results: list[Result] = field(default_factory=list)
    error: BaseException | None = None


class Batcher:
    """One thread ingesting, for any number of senders (`ingest_now` blocks until the messages are in)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self._queue: queue.Queue[_Waiting | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ingest-batcher", daemon=True)
        self._thread.start()

    def ingest_now(self, items: Sequence[Incoming]) -> list[Result]:
        """Store, process and record the messages (with whatever else is waiting); one Result each."""
        waiting = _Waiting(items)
        self._queue.put(waiting)
        while not waiting.done.wait(1.0):  # (a thread that has died never answers: do not wait for it)
            if not self._thread.is_alive():
                raise RuntimeError("The ingesting thread has stopped")
        if waiting.error is not None:
            raise waiting.error
        return waiting.results

    def close(self) -> None:
        """Finish what is waiting, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        # The senders of the last two batches: they are likely to send again at once. (Two, not one:
        # senders that fell into two groups answered in turn would otherwise stay two groups.)
        recent: deque[set[int]] = deque(maxlen=2)
        with dialect.background_checkpoints(self.gate.engine) as engine:
            gate = self.gate.through(engine)
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stopping = self._gather(first, len(set().union(*recent)))
                self._ingest(gate, batch)
                recent.append({w.sender for w in batch})
                if stopping:
                    return

    def _gather(self, first: _Waiting, expected: int) -> tuple[list[_Waiting], bool]:
        """`first` and whatever else is waiting, up to MAX_BATCH messages. The senders of the last
        batches send their next messages a moment after their acknowledgements: until `expected` of
        them are here, for up to LINGER_S, they are waited for, so lock-step senders keep sharing
        batches (else the quickest would be ingested alone, then the rest, in turn). A lone sender never
        waits. (A sender has one frame in flight at a time: a batch's entries are its senders.)"""
        batch, size = [first], len(first.items)
        until = time.monotonic() + LINGER_S
        while size < MAX_BATCH:
            wait = until - time.monotonic() if len(batch) < expected else 0
            try:
                more = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
            size += len(more.items)
        return batch, False

    def _ingest(self, gate: Gate, batch: list[_Waiting]) -> None:
        try:
            results = ingest(gate, [item for w in batch for item in w.items])
        except BaseException as err:  # each sender gets the error (its connection reports it)
            for w in batch:
                w.error = err
                w.done.set()
            if not isinstance(err, Exception):
                raise
            return
        at = 0
        for w in batch:
            w.results, at = results[at : at + len(w.items)], at + len(w.items)
            w.done.set()

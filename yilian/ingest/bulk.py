"""Bulk loading of FHIR files, used by `yilian load` and the ingest benchmark.

With workers, each source is parsed, validated and prepared (a transaction plan: stamped JSON and index
rows) in a worker process while this process, the one writer, applies the previous plans through the
router. Sources whose plans need database searches (conditional references) are sent through the
router whole, as are all sources when there are no workers. Either way every write passes the gate.

The writer is the narrow part, so it does little else: a thread reads (decompresses) the sources and
feeds the workers, a plan's creates arrive as a PreparedBatch inserted with one statement per table, SQLite
checkpoints run in a thread of their own (store.dialect.background_checkpoints), and the cyclic garbage
collector is kept from rescanning the heap while millions of short-lived objects pass through.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle_group
from yilian.fhir.transaction_plan import NeedsDatabase, Plan, plan_transaction
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate
from yilian.ingest.fhir_files import Source, iter_sources, to_bundles
from yilian.ingest.workers import between_groups, preparing_pool, quiet_gc, warm_up
from yilian.store import dialect


@dataclass
class LoadStats:
    bundles: int = 0
    entries: int = 0
    created: int = 0
    matched: int = 0  # conditional creates that found their resource, and updates
    rejected: int = 0
    read_bytes: int = 0  # of the input files, up to the last source written or rejected (Source.read_to)
    by_type: Counter = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)


# What a worker hands back for one source: plans, or the source itself when it must go whole.
Planned = tuple[Source, list[Plan] | None, FhirError | None]


# Entries committed together (each Bundle still all-or-nothing in its savepoint), and the fewest written
# before the group is full, when the next source is not ready. A commit writes every page the group dirtied
# to the WAL, and the index pages are dirtied again by the next group: groups of 4,000-8,000 instead of
# 500-4,000 wrote a Synthea load's WAL as 149 MB instead of 213-229, with 13% less writer CPU (script, 4
# alternated pairs: 11,033-11,470 res/s against 10,442-10,955).
GROUP_ENTRIES = 8000
MIN_GROUP_ENTRIES = 4000
PLAN_AHEAD_BYTES = 64 << 20  # source bytes handed to workers and not yet applied, at most (about)


def load_paths(
    gate: Gate,
    caller: Caller,
    paths: list[Path],
    *,
    workers: int = 0,
    on_progress: Callable[[LoadStats], None] | None = None,
    stop_on_error: bool = False,
) -> LoadStats:
    """Load the files; `on_progress(stats)` is called as sources are written or rejected (progress)."""
    warm_up()
    with quiet_gc(), dialect.background_checkpoints(gate.engine) as engine:
        return _load(gate.through(engine), caller, paths, workers, on_progress, stop_on_error)


def _load(
    gate: Gate,
    caller: Caller,
    paths: list[Path],
    workers: int,
    on_progress: Callable[[LoadStats], None] | None,
    stop_on_error: bool,
) -> LoadStats:
    stats = LoadStats()
    group: list[tuple[Source, FhirRequest]] = []

    def reached(source: Source) -> None:  # the input is done with up to `source`
        stats.read_bytes = max(stats.read_bytes, source.read_to)
        if on_progress:
            on_progress(stats)

    def flush() -> None:
        _apply_group(gate, caller, group, stats, stop_on_error)
        if group:
            reached(group[-1][0])
        group.clear()
        between_groups()

    planned = _Planned(iter_sources(paths), caller, workers)
    for source, plans, error in planned:
        if error is not None:
            _reject(stats, source, error, stop_on_error)
            reached(source)
            continue
        if plans is None:
            group += [(source, FhirRequest("POST", "", body=b)) for b in to_bundles(source)]
        else:
            group += [(source, FhirRequest("POST", "", plan=p)) for p in plans]
        size = sum(_size(r) for _, r in group)
        # Past the minimum, the writer writes what it has rather than wait for a full group while the
        # workers plan more: it would otherwise sit idle whenever they fall behind.
        if size >= GROUP_ENTRIES or (size >= MIN_GROUP_ENTRIES and planned.waiting()):
            flush()
    # The last group is written alone (the workers are done): the WAL written so far is copied back
    # meanwhile, and the checkpoint that ends the load has only this group's pages left to copy.
    dialect.checkpoint_soon(gate.engine)
    flush()
    return stats


def _size(req: FhirRequest) -> int:
    return len(req.plan.steps) if req.plan is not None else len(req.body.get("entry") or [])


def _apply_group(
    gate: Gate, caller: Caller, group: list[tuple[Source, FhirRequest]], stats: LoadStats, stop: bool
) -> None:
    if not group:
        return
    results = handle_group(gate, caller, [req for _, req in group])
    for (source, req), result in zip(group, results, strict=True):
        if isinstance(result, FhirError):
            _reject(stats, source, result, stop)
        else:
            _count(req, result.body["entry"], stats)


def _count(req: FhirRequest, entries: list[dict], stats: LoadStats) -> None:
    types = (
        [s.rtype for s in req.plan.steps]
        if req.plan
        else [e.get("resource", {}).get("resourceType", "?") for e in req.body["entry"]]
    )
    for rtype, result in zip(types, entries, strict=True):
        stats.by_type[rtype] += 1
        if result["response"]["status"].startswith("201"):
            stats.created += 1
        else:
            stats.matched += 1
    stats.entries += len(entries)
    stats.bundles += 1


def _reject(stats: LoadStats, source: Source, error: FhirError, stop: bool) -> None:
    stats.rejected += 1
    stats.errors.append((source.name, str(error)))
    if stop:
        raise error


class _Planned:
    """The planned sources in order, and whether the next one is still being planned. Without workers
    the writer plans each source itself (nothing is ever being planned elsewhere)."""

    def __init__(self, sources: Iterator[Source], caller: Caller, workers: int) -> None:
        self._feed: _Feed | None = None
        self._items = self._iterate(sources, caller, workers)

    def __iter__(self) -> Iterator[Planned]:
        return self._items

    def waiting(self) -> bool:
        return self._feed is not None and self._feed.waiting()

    def _iterate(self, sources: Iterator[Source], caller: Caller, workers: int) -> Iterator[Planned]:
        if workers <= 0:
            for source in sources:
                yield source, None, None
            return
        with preparing_pool(workers) as pool:
            self._feed = _Feed(pool, sources, caller, min_ahead=workers * 2)
            try:
                yield from self._feed
            finally:
                self._feed.close()


class _Feed:
    """Reads the sources and hands them to the workers in a thread of its own (reading an archive means
    decompressing it: the writer should not wait for that), keeping the workers busy while the writer
    applies a whole group but never more than PLAN_AHEAD_BYTES of sources ahead of it (or min_ahead)."""

    def __init__(self, pool: ProcessPoolExecutor, sources: Iterator[Source], caller: Caller, min_ahead: int):
        self._ready: queue.Queue[tuple[Future | BaseException | None, int]] = queue.Queue()
        self._room = threading.Condition()
        self._ahead = self._ahead_bytes = 0
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, args=(pool, sources, caller, min_ahead), name="load-feed", daemon=True
        )
        self._thread.start()

    def _run(
        self, pool: ProcessPoolExecutor, sources: Iterator[Source], caller: Caller, min_ahead: int
    ) -> None:
        try:
            for source in sources:
                size = len(source.data)
                with self._room:
                    self._room.wait_for(
                        lambda size=size: (
                            self._closed
                            or self._ahead < min_ahead
                            or self._ahead_bytes + size <= PLAN_AHEAD_BYTES
                        )
                    )
                    if self._closed:
                        return
                    self._ahead += 1
                    self._ahead_bytes += size
                self._ready.put((pool.submit(plan_source, source, caller), size))
        except BaseException as err:  # noqa: BLE001 - handed to the writer, which raises it
            self._ready.put((err, 0))
            return
        self._ready.put((None, 0))

    def waiting(self) -> bool:
        """Whether the next source's plans are still being made (or not yet handed to a worker)."""
        with self._ready.mutex:
            head = self._ready.queue[0] if self._ready.queue else None
        return head is None or (isinstance(head[0], Future) and not head[0].done())

    def __iter__(self) -> Iterator[Planned]:
        while True:
            item, size = self._ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            planned = item.result()
            with self._room:
                self._ahead -= 1
                self._ahead_bytes -= size
                self._room.notify()
            yield planned

    def close(self) -> None:
        with self._room:
            self._closed = True
            self._room.notify()
        self._thread.join()


def plan_source(source: Source, caller: Caller) -> Planned:
    """In a worker: the transaction plans of one source."""
    try:
        plans = []
        for bundle in to_bundles(source):
            if bundle.get("type") != "transaction":
                return source, None, None
            plans.append(plan_transaction(bundle.get("entry") or [], caller, resolver=None))
        return source.without_data(), plans, None
    except NeedsDatabase:
        return source, None, None
    except FhirError as err:
        return source.without_data(), None, err

"""What bulk FHIR loads and HL7 v2 ingest share to go fast: the process pool that prepares work (parses,
validates, plans) ahead of the one writer, what they load before forking, and the garbage collector kept
quiet while they run.

The writer is the serial part of either pipeline, so the preparing processes run at a lower priority: when
the cores are short they yield to the writer instead of taking an equal share of them (Synthea loads on 2
cores, two runs each way: 32–33% of the raw insert rate niced, 27–30% not). The price: other busy
processes on the machine starve them too (HL7 ingest, whose preparing process is its limit, slowed that
way while other jobs ran).
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

NICENESS = 10  # added to a preparing process's nice value
GC_THRESHOLD = 100_000  # allocations between a preparing process's young collections (Python's: 700)
COLLECT_EVERY = 16  # groups a writer writes between collections while the collector is kept quiet


def preparing_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """`workers` forked processes (they share the parent's compiled validators and search parameters)."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start,
        initargs=(initializer, initargs),
    )


def _start(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    os.nice(NICENESS)
    # Forked from a writer whose collector is off (quiet_gc): a preparing process has no group boundary
    # to collect at, so it collects by allocations, rarely.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Loading makes millions of short-lived objects without cycles (parsed JSON, rows), which reference
    counting frees. Python's cyclic collector would rescan them, and the big long-lived heap (compiled
    validators, SQLAlchemy), every 700 allocations; with a higher threshold it still scanned every row
    waiting to be written once (240 µs an ORU message, an eighth of the writer's time). A load makes
    almost no cycles (3,000 ORU messages: 883 objects, SQLAlchemy's), so the long-lived heap is set aside
    (gc.freeze) and the collector is off while loading; `between_groups` collects now and then so a long
    load's few cycles do not pile up. Preparing processes collect on their own (`_start`). Restored
    afterwards."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


_groups = itertools.count(1)


def between_groups() -> None:
    """Called by the writer after each group it writes: while the collector is kept quiet, collect the
    young generations every COLLECT_EVERY groups."""
    if not gc.isenabled() and next(_groups) % COLLECT_EVERY == 0:
        gc.collect(1)


def warm_up() -> None:
    """Compile the validators, load the search parameters and the extractors' element table before
    loading, and before forking, so preparing processes share them (each built its own element table
    before: 0.5 s of each one's time). Extractors compile per type on first use."""
    from yilian.fhir.validation import resource_types
    from yilian.store.search import extract
    from yilian.store.search.params import search_params

    resource_types()
    search_params("Patient")
    extract.prepare()

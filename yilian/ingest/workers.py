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
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

NICENESS = 10  # added to a preparing process's nice value
GC_THRESHOLD = 100_000  # allocations between young-generation collections while loading (Python's: 700)


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
    if initializer is not None:
        initializer(*initargs)


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Loading makes millions of short-lived objects without cycles (parsed JSON, rows), which reference
    counting frees. Python's cyclic collector would rescan them, and the big long-lived heap (compiled
    validators, SQLAlchemy), every 700 allocations: set that heap aside (gc.freeze, inherited by forked
    workers) and collect the young generation less often. Restored afterwards."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def warm_up() -> None:
    """Compile the validators and load the search parameters before loading, and before forking, so
    preparing processes share them. Extractors compile per type on first use."""
    from yilian.fhir.validation import resource_types
    from yilian.store.search.params import search_params

    resource_types()
    search_params("Patient")

"""Bulk loading of FHIR files, used by `yilian load` and the ingest benchmark.

With workers, each source is parsed, validated and prepared (a transaction plan: stamped JSON and index
rows) in a worker process while this process, the one writer, applies the previous plans through the
router. Sources whose plans need database searches (conditional PUTs or references) are sent through the
router whole, as are all sources when there are no workers. Either way every write passes the gate.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, deque
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


@dataclass
class LoadStats:
    bundles: int = 0
    entries: int = 0
    created: int = 0
    matched: int = 0  # conditional creates that found their resource, and updates
    rejected: int = 0
    by_type: Counter = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)


# What a worker hands back for one source: plans, or the source itself when it must go whole.
Planned = tuple[Source, list[Plan] | None, FhirError | None]


GROUP_ENTRIES = 4000  # entries committed together (each Bundle still all-or-nothing in its savepoint)


def load_paths(
    gate: Gate,
    caller: Caller,
    paths: list[Path],
    *,
    workers: int = 0,
    on_source: Callable[[LoadStats], None] | None = None,
    stop_on_error: bool = False,
) -> LoadStats:
    stats = LoadStats()
    group: list[tuple[Source, FhirRequest]] = []

    def flush() -> None:
        _apply_group(gate, caller, group, stats, stop_on_error)
        if on_source:
            for _ in {id(source) for source, _ in group}:
                on_source(stats)
        group.clear()

    for source, plans, error in _planned(iter_sources(paths), caller, workers):
        if error is not None:
            _reject(stats, source, error, stop_on_error)
            if on_source:
                on_source(stats)
            continue
        if plans is None:
            group += [(source, FhirRequest("POST", "", body=b)) for b in to_bundles(source)]
        else:
            group += [(source, FhirRequest("POST", "", plan=p)) for p in plans]
        if sum(_size(r) for _, r in group) >= GROUP_ENTRIES:
            flush()
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


def _planned(sources: Iterator[Source], caller: Caller, workers: int) -> Iterator[Planned]:
    if workers <= 0:
        for source in sources:
            yield source, None, None
        return
    _warm_up()  # compile validators and extractors once, before forking, so workers share them
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future] = deque()
        for source in sources:
            pending.append(pool.submit(plan_source, source, caller))
            if len(pending) >= workers * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def plan_source(source: Source, caller: Caller) -> Planned:
    """In a worker: the transaction plans of one source, slimmed for the trip back."""
    try:
        plans = []
        for bundle in to_bundles(source):
            if bundle.get("type") != "transaction":
                return source, None, None
            plans.append(_slim(plan_transaction(bundle.get("entry") or [], caller, resolver=None)))
        return source.without_data(), plans, None
    except NeedsDatabase:
        return source, None, None
    except FhirError as err:
        return source.without_data(), None, err


def _slim(plan: Plan) -> Plan:
    """Drop what applying a prepared create no longer needs (the parsed resource), to pickle less."""
    for step in plan.steps:
        if step.prepared is not None:
            step.resource = None
            step.entry = {"request": step.entry.get("request", {})}
    return plan


def _warm_up() -> None:
    from yilian.fhir.validation import resource_types, validate
    from yilian.store.search.extract import extract

    for rtype in resource_types():
        validate({"resourceType": rtype})
        extract({"resourceType": rtype})

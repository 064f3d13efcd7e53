"""Ingest of the Synthea R4 set through `yilian load`'s path, beside a raw-insert baseline in the same run.

Ours: parse each bundle, resolve references, validate, extract search indexes, store (router → gate → store).
Baseline: parse each bundle and insert every resource's JSON into one un-indexed table of the same kind of
database, one transaction per bundle: the limit a loader could reach if it did nothing else.
Floor: the rows our store keeps for the same resources (JSON, index rows, compartments; planned beforehand,
untimed) inserted by the store's batch insert in groups of about 4,000 resources, with nothing else: what
the store itself costs, before any parsing, planning, matching or auditing. (Every create is inserted,
including the 1% of conditional creates the real load matches instead.)
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import orjson
from sqlalchemy import text

from bench.common import (
    SYNTHEA,
    best_of,
    discard,
    discarded,
    emit,
    fresh_gate,
    gate_on,
    in_own_process,
    insert_only,
    machine,
    rates_of,
    require,
)
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.ingest.bulk import GROUP_ENTRIES, load_paths, plan_source
from yilian.ingest.fhir_files import iter_sources


def load_ours(gate: Gate, path: Path, workers: int, cpu: dict | None = None) -> tuple[int, float]:
    """`yilian load`'s own path (files read, parsed, validated, indexed, stored). `cpu` receives where
    the processor time went (seconds): the writer's thread, this whole process, the worker processes."""
    before = _cpu()
    started = time.perf_counter()
    stats = load_paths(gate, operator(), [path], workers=workers)
    elapsed = time.perf_counter() - started
    assert not stats.errors, stats.errors[:3]
    if cpu is not None:
        cpu.update({k: after - before[k] for k, after in _cpu().items()})
    return stats.entries, elapsed


def _cpu() -> dict[str, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "writer_thread": time.thread_time(),
        "loader_process": own.ru_utime + own.ru_stime,
        "workers": children.ru_utime + children.ru_stime,  # counted once the workers have ended
    }


def load_raw(gate: Gate, path: Path) -> tuple[int, float]:
    """The baseline: the same files read and parsed, each resource's JSON inserted, no indexes."""
    engine = gate.engine
    blob = "BYTEA" if engine.dialect.name == "postgresql" else "BLOB"
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS raw_resources"))  # a PostgreSQL database is reused
        conn.execute(text(f"CREATE TABLE raw_resources (type VARCHAR(64), id VARCHAR(64), content {blob})"))
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    count, started = 0, time.perf_counter()
    for source in iter_sources([path]):
        bundle = orjson.loads(source.data)
        rows = [
            (e["resource"]["resourceType"], e["fullUrl"][-36:], orjson.dumps(e["resource"]))
            for e in bundle["entry"]
        ]
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"INSERT INTO raw_resources VALUES ({mark}, {mark}, {mark})", rows)
        count += len(rows)
    return count, time.perf_counter() - started


def load_rows_only(gate: Gate, path: Path) -> tuple[int, float]:
    """The floor: the store's rows for every resource, planned first (untimed), then only inserted."""
    from yilian.store.rows import PreparedBatch

    groups: list[list] = [[]]
    for source in iter_sources([path]):
        _source, plans, error = plan_source(source, operator())
        assert plans is not None and error is None, source.name
        for plan in plans:
            if sum(b.size for b in groups[-1]) >= GROUP_ENTRIES:
                groups.append([])
            groups[-1].append(plan.batch)
    batches = [PreparedBatch.concatenated(group)[0] for group in groups]
    return sum(b.size for b in batches), insert_only(gate.engine, batches)


def run(
    path: Path, database_url: str | None = None, keep: list | None = None, workers: int = 2, rounds: int = 3
) -> dict:
    """Each measure `rounds` times, alternated (raw, floor, ours in one process, ours with workers; then
    again): these machines' speed drifts by a third within minutes, so one run of each can compare a
    fast moment with a slow one. Each rate reported is the best of its rounds (as timeit takes the
    fastest repeat: noise only ever slows a run down); `rounds` keeps every round's rates."""
    require(path)
    labels = ("ours_1_process", f"ours_{workers}_workers")
    seen: list[dict] = []
    for _ in range(rounds):
        seen.append(_round(path, database_url, labels, workers, keep))
    best = best_of(seen)
    raw = best["raw_insert_resources_per_s"]
    result = {
        "benchmark": "ingest-synthea",
        "database": seen[0]["database"],
        "resources": seen[0]["resources"],
    }
    result.update(best)
    result["store_rows_only_vs_raw"] = round(best["store_rows_only_resources_per_s"] / raw, 3)
    for label in labels:
        result[f"{label}_vs_raw"] = round(best[f"{label}_resources_per_s"] / raw, 3)
        fastest = max(seen, key=lambda r, label=label: r[f"{label}_resources_per_s"])
        result[f"{label}_cpu_us_per_resource"] = fastest[f"{label}_cpu_us_per_resource"]
    result["rounds"] = rates_of(seen)
    result["machine"] = machine()
    return result


def _round(
    path: Path, database_url: str | None, labels: tuple[str, str], workers: int, keep: list | None
) -> dict:
    """One round: each load in a process of its own (bench.common.in_own_process)."""
    raw_n, raw_s = in_own_process(_once, load_raw, database_url, path)
    floor_n, floor_s = in_own_process(_once, load_rows_only, database_url, path)
    out = {
        "resources": raw_n,
        "raw_insert_resources_per_s": round(raw_n / raw_s),
        "store_rows_only_resources_per_s": round(floor_n / floor_s),
    }
    for label, n_workers in zip(labels, (0, workers), strict=True):
        kept = keep is not None and n_workers > 0  # the store loaded with workers, for the reading benches
        n, seconds, cpu, dialect, url = in_own_process(_ours, database_url, path, n_workers, kept)
        out["database"] = dialect
        out[f"{label}_resources_per_s"] = round(n / seconds)
        out[f"{label}_cpu_us_per_resource"] = {k: round(v / n * 1e6, 1) for k, v in cpu.items()}
        if kept:
            assert keep is not None  # (kept says so)
            for old in keep:
                discard(old)
            keep[:] = [gate_on(url)]  # the last round's
    return out


def _ours(database_url: str | None, path: Path, workers: int, kept: bool) -> tuple:
    """Our load into a fresh database: (resources, seconds, CPU split, dialect, database URL). The database
    is deleted unless `kept`."""
    gate = fresh_gate(database_url)
    cpu: dict = {}
    n, seconds = load_ours(gate, path, workers, cpu)
    url = gate.engine.url.render_as_string(hide_password=False)
    if kept:
        gate.engine.dispose()
    else:
        discard(gate)
    return n, seconds, cpu, gate.engine.dialect.name, url


def _once(load, database_url: str | None, path: Path) -> tuple[int, float]:  # noqa: ANN001 - a loader
    with discarded(fresh_gate(database_url)) as gate:
        return load(gate, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=SYNTHEA)
    parser.add_argument("--database-url", help="PostgreSQL URL to measure there instead of SQLite")
    parser.add_argument("--workers", type=int, default=2, help="loader worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of every measure")
    args = parser.parse_args()
    emit(run(args.path, args.database_url, workers=args.workers, rounds=args.rounds))


if __name__ == "__main__":
    main()

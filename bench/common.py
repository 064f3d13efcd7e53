"""Shared by the benchmarks: where the shared data is, a fresh database, percentiles, JSON output."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from yilian.config import Settings
from yilian.gate.repository import Gate
from yilian.store import schema
from yilian.wiring import build_gate

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YILIAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SYNTHEA = SHARED / "synthea-r4" / "set-a-100-patients.tar.gz"

T = TypeVar("T")


def require(path: Path) -> None:
    if not path.exists():
        print(json.dumps({"skipped": f"{path} is absent (the shared reference data)"}))
        sys.exit(0)


def fresh_gate(database_url: str | None = None) -> Gate:
    """A migrated, empty database: a new SQLite file unless a URL is given."""
    if database_url is None:
        folder = Path(tempfile.mkdtemp(prefix="yilian-bench-"))
        database_url = f"sqlite:///{folder / 'bench.db'}"
    settings = Settings(database_url=database_url, _env_file=None)
    gate = build_gate(settings)
    schema.upgrade(gate.engine)
    return gate


def gate_on(database_url: str) -> Gate:
    """A gate on a database a benchmark made (migrated already), e.g. in a process of its own."""
    return build_gate(Settings(database_url=database_url, _env_file=None))


def in_own_process(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in a process forked from this one, its result sent back: every load a benchmark
    compares starts from the same state, a process that has loaded nothing yet (as `yilian load` and any
    other loader runs in its own). In one process a load ran slower after others (script, 2 runs each: the
    raw insert 6-9% slower after one of our loads, ours 7-10% after three loads), and only the raw
    insert's first round used to run in a process that had loaded nothing. The child must not use a
    database connection it inherits (it ends with os._exit, as multiprocessing's forked children do, so
    it does not close them either), and a lock another thread holds at the fork stays held in it: fork
    before starting threads of your own."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def run() -> None:
        try:
            send.send((True, fn(*args)))
        except BaseException:  # noqa: BLE001 - reported by the parent, which raises
            send.send((False, traceback.format_exc()))

    child = ctx.Process(target=run)
    child.start()
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:  # it died before it could answer
        child.join()
        ok, value = False, f"it ended with exit code {child.exitcode} and no result"
    child.join()
    if not ok:
        raise RuntimeError(f"in a benchmark's own process:\n{value}")
    return value


def discard(gate: Gate) -> None:
    """Close a benchmark's database and, when it is a fresh_gate SQLite file, delete it (a Synthea
    store is about 100 MB; a bench run makes a dozen)."""
    gate.engine.dispose()
    database = gate.engine.url.database or ""
    folder = Path(database).parent
    if gate.engine.dialect.name == "sqlite" and folder.name.startswith("yilian-bench-"):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def discarded(gate: Gate) -> Iterator[Gate]:
    """`with discarded(fresh_gate(...)) as gate:` the gate, its database discarded when done (`discard`)."""
    try:
        yield gate
    finally:
        discard(gate)


def best_of(rounds: list[dict]) -> dict:
    """Each rate (`*_per_s`) as the best of the rounds it was measured in, as timeit takes the fastest
    repeat (noise only ever slows a run down); these machines' speed drifts within minutes."""
    return {key: max(r[key] for r in rounds) for key in rounds[0] if key.endswith("_per_s")}


def rates_of(rounds: list[dict]) -> list[dict]:
    """Every round's rates, kept in a benchmark's JSON beside the best ones."""
    return [{k: v for k, v in r.items() if k.endswith("_per_s")} for r in rounds]


def insert_only(engine, batches: list) -> float:  # noqa: ANN001 - an Engine
    """Seconds to insert prepared batches (store/rows.PreparedBatch) by the store's batch insert, one
    transaction each and nothing else: the floor under a loader that writes those rows."""
    from yilian.store import dialect
    from yilian.store.repository import insert_batch

    started = time.perf_counter()
    for batch in batches:
        with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            insert_batch(conn, batch)
    return time.perf_counter() - started


def percentiles(samples_ms: list[float]) -> dict:
    ordered = sorted(samples_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49], 3),
        "p95_ms": round(q[94], 3),
        "max_ms": round(ordered[-1], 3),
        "n": len(ordered),
    }


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def emit(result: dict) -> None:
    print(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()


def main_on_synthea(measure, description: str | None) -> None:  # noqa: ANN001 - measure(gate) -> dict
    """The `main` of a benchmark that measures a store loaded with the Synthea set."""
    from bench.ingest import load_ours

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database-url", help="PostgreSQL URL to measure there instead of SQLite")
    args = parser.parse_args()
    require(SYNTHEA)
    gate = fresh_gate(args.database_url)
    load_ours(gate, SYNTHEA, workers=2)
    emit(measure(gate))

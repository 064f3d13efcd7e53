"""Ingest of the Synthea R4 set through `yilian load`'s path, beside a raw-insert baseline in the same run.

Ours: parse each bundle, resolve references, validate, extract search indexes, store (router → gate → store).
Baseline: parse each bundle and insert every resource's JSON into one un-indexed table of the same kind of
database, one transaction per bundle: the limit a loader could reach if it did nothing else.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson
from sqlalchemy import text

from bench.common import SYNTHEA, emit, fresh_gate, machine, require
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.ingest.fhir_files import iter_sources, to_bundles


def load_ours(gate: Gate, sources: list) -> tuple[int, float]:
    count, started = 0, time.perf_counter()
    for source in sources:
        for bundle in to_bundles(source):
            handle(gate, operator(), FhirRequest("POST", "", body=bundle))
            count += len(bundle["entry"])
    return count, time.perf_counter() - started


def load_raw(gate: Gate, sources: list) -> tuple[int, float]:
    engine = gate.engine
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE raw_resources (type VARCHAR(64), id VARCHAR(64), content BYTEA)"
                          if engine.dialect.name == "postgresql" else
                          "CREATE TABLE raw_resources (type TEXT, id TEXT, content BLOB)"))
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    count, started = 0, time.perf_counter()
    for source in sources:
        bundle = orjson.loads(source.data)
        rows = [(e["resource"]["resourceType"], e["fullUrl"][-36:], orjson.dumps(e["resource"]))
                for e in bundle["entry"]]
        with engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f"INSERT INTO raw_resources VALUES ({mark}, {mark}, {mark})", rows)
        count += len(rows)
    return count, time.perf_counter() - started


def run(path: Path, database_url: str | None = None, keep: list | None = None) -> dict:
    require(path)
    sources = list(iter_sources([path]))
    raw_n, raw_s = load_raw(fresh_gate(database_url), sources)
    gate = fresh_gate(database_url)
    ours_n, ours_s = load_ours(gate, sources)
    if keep is not None:
        keep.append(gate)
    ours_rate, raw_rate = ours_n / ours_s, raw_n / raw_s
    return {
        "benchmark": "ingest-synthea",
        "database": gate.engine.dialect.name,
        "resources": ours_n,
        "ours_seconds": round(ours_s, 2),
        "ours_resources_per_s": round(ours_rate),
        "raw_insert_resources_per_s": round(raw_rate),
        "ours_vs_raw": round(ours_rate / raw_rate, 3),
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=SYNTHEA)
    parser.add_argument("--database-url", help="PostgreSQL URL to measure there instead of SQLite")
    args = parser.parse_args()
    emit(run(args.path, args.database_url))


if __name__ == "__main__":
    main()

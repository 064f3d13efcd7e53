"""Audit log speed: recording and folding (append), verifying a large log, inclusion proofs.

Events are realistic BALP AuditEvents built from an Access (a clinician reading a patient's resources),
recorded as the observer records them (durable, `leaf` NULL), then folded into the Merkle tree by the
folder's code path: leaf hashes, tree tiles, leaf indexes, a signed checkpoint.
"""

from __future__ import annotations

import argparse
import random
import time

from bench.common import discarded, emit, fresh_gate, machine, percentiles
from yilian.audit.events import build
from yilian.audit.log import AuditLog, of
from yilian.audit.proofs import consistency_path, inclusion, inclusion_path
from yilian.audit.record import insert_events
from yilian.audit.verify import verify_log
from yilian.fhir.messages import FhirRequest
from yilian.gate.access import Access
from yilian.gate.caller import Caller
from yilian.store import dialect
from yilian.store.repository import Stored

DOCTOR = Caller("dr.bench", "本测医生", "m-tertiary-1", frozenset({"clinician"}), "TREAT")


def events(n: int, start: int = 0) -> list:
    """n distinct events: reads of one patient's Observation each, by one of a few doctors."""
    out = []
    for i in range(start, start + n):
        pid = f"p{i % 5000}"
        touched = [Stored(i, "Observation", f"o{i}", 1, 0.0, False, "m-tertiary-1", b"{}")]
        access = Access(DOCTOR, FhirRequest("GET", f"Observation/o{i}"), "read", touched=touched)
        out.append(build(access, {pid}, now=1.7e9 + i))
    return out


def record(log: AuditLog, n: int, batch: int = 20_000) -> float:
    """Record n events as pending; returns seconds spent writing (event building excluded)."""
    spent = 0.0
    for start in range(0, n, batch):
        chunk = events(min(batch, n - start), start)
        began = time.perf_counter()
        with log.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            insert_events(conn, chunk)
        spent += time.perf_counter() - began
    return spent


def fold(log: AuditLog) -> float:
    began = time.perf_counter()
    log.fold_all()
    return time.perf_counter() - began


def measure_append(database_url: str | None, n: int = 200_000) -> dict:
    with discarded(fresh_gate(database_url)) as gate:  # 200,000 events: about 400 MB
        return _append(of(gate), n)


def _append(log: AuditLog, n: int) -> dict:
    building = time.perf_counter()
    events(10_000)
    build_rate = 10_000 / (time.perf_counter() - building)
    record_s = record(log, n)
    fold_s = fold(log)
    return {
        "benchmark": "audit-append",
        "database": log.engine.dialect.name,
        "suite": log.suite.name,
        "events": n,
        "fold_events_per_s": round(n / fold_s),
        "record_events_per_s": round(n / record_s),
        "build_events_per_s": round(build_rate),
        "machine": machine(),
    }


def measure_large(database_url: str | None, n: int = 1_000_000, proofs: int = 2000) -> dict:
    with discarded(fresh_gate(database_url)) as gate:  # 1,000,000 events: about 2 GB
        return _large(of(gate), n, proofs)


def _large(log: AuditLog, n: int, proofs: int) -> dict:
    record(log, n)
    fold(log)
    began = time.perf_counter()
    report = verify_log(log)
    verify_s = time.perf_counter() - began
    assert report.ok, report.problems[:3]
    rng = random.Random(7)
    size = log.head().size
    cold, warm, full, cons = [], [], [], []
    with log.engine.connect() as conn:
        for _ in range(proofs):
            leaf = rng.randrange(size)
            log.cache.tiles.clear()
            cold.append(_ms(lambda leaf=leaf: inclusion_path(log, conn, leaf, size)))
            warm.append(_ms(lambda leaf=leaf: inclusion_path(log, conn, leaf, size)))
        for _ in range(200):
            leaf = rng.randrange(size)
            full.append(_ms(lambda leaf=leaf: inclusion(log, conn, leaf)))
            old = rng.randrange(1, size)
            cons.append(_ms(lambda old=old: consistency_path(log, conn, old, size)))
    return {
        "benchmark": "audit-large-log",
        "database": log.engine.dialect.name,
        "suite": log.suite.name,
        "events": size,
        "verify_s": round(verify_s, 2),
        "inclusion_proof_cold_cache": percentiles(cold),
        "inclusion_proof": percentiles(warm),
        "inclusion_proof_json_with_event_and_checkpoint": percentiles(full),
        "consistency_proof": percentiles(cons),
        "machine": machine(),
    }


def _ms(fn) -> float:  # noqa: ANN001
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    emit(measure_append(args.database_url))
    emit(measure_large(args.database_url, args.events))


if __name__ == "__main__":
    main()

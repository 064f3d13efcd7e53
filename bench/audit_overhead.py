"""Read-path overhead of auditing, side by side in one run: Patient/$everything and a search through a
gate with the audit observer and through a gate without it, over the same database, interleaved per
patient so that both see the same caches."""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import emit, fresh_gate, machine, percentiles
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate

READER = operator()  # sees every record, so both gates do the same work whatever the consents


def _patients(gate: Gate) -> list[str]:
    body = handle(
        gate, READER, FhirRequest("GET", "Patient", [("_count", "1000"), ("_elements", "id")])
    ).resource()
    return [e["resource"]["id"] for e in body.get("entry", [])]


def _ms(fn) -> float:  # noqa: ANN001
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def measure(audited: Gate, rounds: int = 5) -> dict:
    bare = Gate(audited.engine, audited.settings)  # the same database, no observers
    pids = _patients(audited)

    def everything(gate: Gate, pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).json_bytes()

    def search(gate: Gate, pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", "Observation", [("subject", f"Patient/{pid}")])).json_bytes()

    for pid in pids[:5]:
        everything(audited, pid)
        everything(bare, pid)
    ev_on, ev_off, se_on, se_off = [], [], [], []
    for r in range(rounds):
        for pid in pids:
            first, second = (audited, bare) if r % 2 == 0 else (bare, audited)
            a, b = _ms(lambda g=first, p=pid: everything(g, p)), _ms(lambda g=second, p=pid: everything(g, p))
            ev_on.append(a if first is audited else b)
            ev_off.append(b if first is audited else a)
            a, b = _ms(lambda g=first, p=pid: search(g, p)), _ms(lambda g=second, p=pid: search(g, p))
            se_on.append(a if first is audited else b)
            se_off.append(b if first is audited else a)
    return {
        "benchmark": "audit-read-overhead",
        "database": audited.engine.dialect.name,
        "patients": len(pids),
        "everything_audited": percentiles(ev_on),
        "everything_unaudited": percentiles(ev_off),
        "everything_overhead_pct": _overhead(ev_on, ev_off),
        "search_audited": percentiles(se_on),
        "search_unaudited": percentiles(se_off),
        "search_overhead_pct": _overhead(se_on, se_off),
        "machine": machine(),
    }


def _overhead(on: list[float], off: list[float]) -> float:
    return round((statistics.median(on) / statistics.median(off) - 1) * 100, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--patients", type=int, default=100)
    args = parser.parse_args()
    from bench.common import SYNTHEA

    gate = fresh_gate(args.database_url)
    if SYNTHEA.exists():
        from bench.ingest import load_ours

        load_ours(gate, SYNTHEA, workers=2)
    else:
        from yilian.demo.load import load_demo

        load_demo(gate, patients=args.patients, seed=1)
    emit(measure(gate))


if __name__ == "__main__":
    main()

"""Read-path overhead of auditing, side by side in one run: Patient/$everything and a search through a
gate with the audit observer and through a gate without it, over the same database, interleaved per
patient so that both see the same caches.

Then what the audited requests recorded is drained from the spool into the store (timed: the work moved
off the request path, AuditEvents shaped and patients looked up) and checked: one event per audited
request, each naming the patient read about."""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import func, select

from bench.common import emit, fresh_gate, machine, percentiles
from yilian.audit.log import of
from yilian.audit.tables import audit_entry, audit_event, audit_patient
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


def _timed(fn) -> tuple[float, float]:  # noqa: ANN001
    """Milliseconds of wall clock and of this thread's CPU (user and kernel: a write() counts). On a
    machine shared with other work the CPU time leaves out the time the scheduler gave to others."""
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000


def measure(audited: Gate, rounds: int = 6) -> dict:
    """Each gate goes first in half of the rounds: the first call of a pair is slower (about 5 % for the
    search, measured with both gates unaudited), so an odd number of rounds would favour one gate."""
    assert rounds % 2 == 0, "an even number of rounds, so that each gate goes first equally often"
    bare = Gate(audited.engine, audited.settings)  # the same database, no observers
    pids = _patients(audited)

    def everything(gate: Gate, pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).json_bytes()

    def search(gate: Gate, pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", "Observation", [("subject", f"Patient/{pid}")])).json_bytes()

    for pid in pids[:5]:
        everything(audited, pid)
        everything(bare, pid)
    log = of(audited)
    log.drain()
    first_seq = _top_seq(audited) + 1
    samples: dict[tuple[str, bool], list[tuple[float, float]]] = {
        (kind, on): [] for kind in ("everything", "search") for on in (True, False)
    }
    for r in range(rounds):
        for pid in pids:
            pair = (audited, bare) if r % 2 == 0 else (bare, audited)
            for kind, fn in (("everything", everything), ("search", search)):
                for gate in pair:
                    samples[kind, gate is audited].append(_timed(lambda g=gate, p=pid, f=fn: f(g, p)))
    began = time.perf_counter()
    drained = log.drain()
    drain_s = time.perf_counter() - began
    return {
        "benchmark": "audit-read-overhead",
        "database": audited.engine.dialect.name,
        "patients": len(pids),
        **_figures(samples, "everything"),
        **_figures(samples, "search"),
        "recorded": _recorded(audited, first_seq, sum(len(v) for (_, on), v in samples.items() if on)),
        "drain_events_per_s": round(drained / drain_s) if drained else None,
        "machine": machine(),
    }


def _top_seq(gate: Gate) -> int:
    with gate.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_event.c.seq), 0))).scalar_one())


def _recorded(gate: Gate, first_seq: int, requests: int) -> dict:
    """What the audited requests left in the log: an event each, by the reader, naming its patient."""
    e, x, p = audit_event.c, audit_entry.c, audit_patient.c
    with gate.engine.connect() as conn:
        rows = conn.execute(
            select(e.seq, e.user_id, e.action, e.outcome, x.entry)
            .join_from(audit_event, audit_entry, x.seq == e.seq)
            .where(e.seq >= first_seq)
        ).all()
        named = dict(
            conn.execute(select(p.seq, func.count()).where(p.seq >= first_seq).group_by(p.seq)).all()
        )
    complete = sum(
        1
        for r in rows
        if r.user_id == READER.user_id and r.outcome == 200 and named.get(r.seq) and b'"Patient/' in r.entry
    )
    return {"requests": requests, "events": len(rows), "complete_events": complete}


def _figures(samples: dict, kind: str) -> dict:
    on, off = samples[kind, True], samples[kind, False]
    wall_on, wall_off = [w for w, _ in on], [w for w, _ in off]
    cpu_on, cpu_off = [c for _, c in on], [c for _, c in off]
    return {
        f"{kind}_audited": percentiles(wall_on),
        f"{kind}_unaudited": percentiles(wall_off),
        f"{kind}_overhead_pct": _overhead(wall_on, wall_off),
        f"{kind}_cpu_p50_ms": [round(statistics.median(cpu_on), 3), round(statistics.median(cpu_off), 3)],
        f"{kind}_cpu_overhead_pct": _overhead(cpu_on, cpu_off),
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

"""The cost of governance: a consent decision per resource (the pure model and the SQL filter), and
Patient/$everything with enforcement on (a clinician reading other members' records by consent) beside
enforcement off (the alliance administrator), interleaved patient by patient in one run."""

from __future__ import annotations

import time

from bench.common import machine, main_on_synthea, percentiles
from bench.everything import ADMIN, READER, _patients_and_codes, _time, grant_consents
from yilian.consent.decide import Request, decide
from yilian.consent.model import ANY, Grant
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.repository import Gate


def decision_cost(n: int = 200_000) -> dict:
    """Mean µs of one pure decision over a patient with five grants (purposes, members, classes)."""
    grants = [
        Grant("c", "p", d, p, pu, r, cl, 0.0, 2e9, rec)
        for d, p, pu, r, cl, rec in (
            (0, True, "TREAT", ANY, ANY, 1.0),
            (1, False, "TREAT", "m-b", ANY, 1.0),
            (0, True, "HRESCH", ANY, ANY, 2.0),
            (0, False, "TREAT", "m-c", "Observation", 3.0),
            (0, True, "TREAT", ANY, "HIV", 4.0),
        )
    ]
    req = Request("TREAT", "m-a", "Observation", 4, None, 1.5e9)
    started = time.perf_counter()
    for _ in range(n):
        decide(grants, req)
    return {"pure_decision_us": round((time.perf_counter() - started) / n * 1e6, 3)}


def everything_on_off(gate: Gate, rounds: int = 3) -> dict:
    pairs = _patients_and_codes(gate)
    grant_consents(gate, [pid for pid, _ in pairs])

    def run(caller, pid: str) -> int:  # noqa: ANN001
        return len(handle(gate, caller, FhirRequest("GET", f"Patient/{pid}/$everything")).json_bytes())

    for pid, _ in pairs[:5]:
        run(ADMIN, pid), run(READER, pid)
    on, off, rows = [], [], 0
    for _ in range(rounds):
        for pid, _ in pairs:
            off.append(_time(lambda pid=pid: run(ADMIN, pid)))
            on.append(_time(lambda pid=pid: run(READER, pid)))
    for pid, _ in pairs:
        body = handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).body
        assert len(body["entry"]) > 1, "the consented reader must see the record"
        rows += len(body["entry"])
    on_p, off_p = percentiles(on), percentiles(off)
    per_row_us = (sum(on) - sum(off)) / rounds / rows * 1000
    return {
        "everything_enforced": on_p,
        "everything_unenforced": off_p,
        "enforcement_overhead_p50": round(on_p["p50_ms"] / off_p["p50_ms"] - 1, 3),
        "sql_consent_check_us_per_resource": round(per_row_us, 2),
    }


def run_all(gate: Gate) -> dict:
    return {
        "benchmark": "governance",
        "database": gate.engine.dialect.name,
        **decision_cost(),
        **everything_on_off(gate),
        "machine": machine(),
    }


def main() -> None:
    main_on_synthea(run_all, __doc__)


if __name__ == "__main__":
    main()

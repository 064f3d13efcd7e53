"""Read latency on a loaded Synthea store: Patient/$everything and Observation?patient=X&code=Y,
through the router (gate, store, Bundle serialisation), beside the raw SQL that fetches the same rows.

The reader is a clinician at a member that holds none of the records: every row is shown because the
patient consented, so the consent check runs on every row (the enforced path, as in production).
"""

from __future__ import annotations

import time

from sqlalchemy import text

from bench.common import machine, main_on_synthea, percentiles
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate

READER = Caller("bench", "bench clinician", "m-bench", frozenset({"clinician"}), "TREAT")
ADMIN = Caller("bench-admin", "bench admin", None, frozenset({"admin"}), "HOPERAT")


def grant_consents(gate: Gate, patient_ids: list[str]) -> None:
    """Every patient agrees that any member may use their records to treat them."""
    from yilian.consent.build import consent

    entries = [
        {"resource": consent(pid), "request": {"method": "POST", "url": "Consent"}} for pid in patient_ids
    ]
    handle(
        gate,
        ADMIN,
        FhirRequest("POST", "", body={"resourceType": "Bundle", "type": "transaction", "entry": entries}),
    )


def _time(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _patients_and_codes(gate: Gate) -> list[tuple[str, str]]:
    with gate.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.id, MIN(t.value) FROM resources r JOIN compartment c ON c.patient_id = r.id "
                "JOIN resources o ON o.rid = c.rid AND o.type = 'Observation' "
                "JOIN idx_token t ON t.rid = o.rid WHERE r.type = 'Patient' GROUP BY r.id ORDER BY r.id"
            )
        )
        return [(r[0], r[1]) for r in rows]


def measure(gate: Gate, rounds: int = 3) -> dict:
    pairs = _patients_and_codes(gate)
    grant_consents(gate, [pid for pid, _ in pairs])

    def everything(pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).json_bytes()

    def search(pid: str, code: str) -> None:
        handle(
            gate, READER, FhirRequest("GET", "Observation", [("patient", pid), ("code", code)])
        ).json_bytes()

    def raw_everything(pid: str) -> None:
        with gate.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT r.content FROM resources r WHERE r.rid IN "
                    "(SELECT rid FROM compartment WHERE patient_id = :p)"
                ),
                {"p": pid},
            ).all()

    for pid, _ in pairs[:5]:  # warm caches
        everything(pid)
    ev, raw, se, sizes = [], [], [], []
    for _ in range(rounds):
        for pid, code in pairs:
            ev.append(_time(lambda pid=pid: everything(pid)))
            raw.append(_time(lambda pid=pid: raw_everything(pid)))
            se.append(_time(lambda pid=pid, code=code: search(pid, code)))
    for pid, _ in pairs:
        body = handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).body
        sizes.append(len(body["entry"]))
    return {
        "benchmark": "read-latency",
        "database": gate.engine.dialect.name,
        "patients": len(pairs),
        "everything_resources_per_patient_mean": round(sum(sizes) / len(sizes), 1),
        "everything": percentiles(ev),
        "everything_raw_sql_baseline": percentiles(raw),
        "search_observation_patient_code": percentiles(se),
        "machine": machine(),
    }


def main() -> None:
    main_on_synthea(measure, __doc__)


if __name__ == "__main__":
    main()

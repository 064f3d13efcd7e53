"""What encrypting patients' identifiers at rest costs, side by side in one run: the Synthea set loaded into
a store with `encrypt_identifiers` off and into one with it on (same loader, same workers; twice, in
alternating order, the faster load of each kept), then
Patient/$everything and an identifier search through each, interleaved per patient; finally
`yilian crypto seal`'s speed, sealing the clear store in place."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import SYNTHEA, emit, machine, percentiles, require
from bench.ingest import load_ours
from yilian.config import Settings
from yilian.crypto import seal as sealing
from yilian.crypto.rotation import codec_for
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.store import schema
from yilian.store.search.extract import extract
from yilian.wiring import build_gate

READER = operator()


def store(encrypted: bool) -> Gate:
    folder = Path(tempfile.mkdtemp(prefix="yilian-bench-crypto-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}", encrypt_identifiers=encrypted, _env_file=None
    )
    gate = build_gate(settings)
    schema.upgrade(gate.engine)
    return gate


def _ms(fn) -> float:  # noqa: ANN001
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def _patients(gate: Gate) -> dict[str, str]:
    """Every Patient's id, by its first identifier's value (the loader gives each store its own ids)."""
    body = handle(gate, READER, FhirRequest("GET", "Patient", [("_count", "1000")])).resource()
    return {
        e["resource"]["identifier"][0]["value"]: e["resource"]["id"]
        for e in body.get("entry", [])
        if e["resource"].get("identifier")
    }


def reads(clear: Gate, sealed: Gate, rounds: int) -> dict:
    assert rounds % 2 == 0, "an even number of rounds, so that each store goes first equally often"
    in_clear, in_sealed = _patients(clear), _patients(sealed)
    assert in_clear.keys() == in_sealed.keys(), "both stores hold the same patients"
    patients = sorted(in_clear)

    def everything(gate: Gate, pid: str) -> None:
        handle(gate, READER, FhirRequest("GET", f"Patient/{pid}/$everything")).json_bytes()

    def by_identifier(gate: Gate, value: str) -> None:
        found = handle(gate, READER, FhirRequest("GET", "Patient", [("identifier", value)])).resource()
        assert found.get("total", len(found.get("entry", []))) >= 1

    samples: dict[str, list[float]] = {k: [] for k in ("ev_clear", "ev_sealed", "id_clear", "id_sealed")}
    ids = {"clear": in_clear, "sealed": in_sealed}
    for value in patients[:5]:
        everything(clear, in_clear[value])
        everything(sealed, in_sealed[value])
    for r in range(rounds):
        for value in patients:
            order = (
                ((clear, "clear"), (sealed, "sealed"))
                if r % 2 == 0
                else ((sealed, "sealed"), (clear, "clear"))
            )
            for gate, name in order:
                pid = ids[name][value]
                samples[f"ev_{name}"].append(_ms(lambda g=gate, p=pid: everything(g, p)))
            for gate, name in order:
                samples[f"id_{name}"].append(_ms(lambda g=gate, v=value: by_identifier(g, v)))
    return {
        "patients": len(patients),
        "everything_clear": percentiles(samples["ev_clear"]),
        "everything_sealed": percentiles(samples["ev_sealed"]),
        "everything_overhead_pct": _overhead(samples["ev_sealed"], samples["ev_clear"]),
        "identifier_search_clear": percentiles(samples["id_clear"]),
        "identifier_search_sealed": percentiles(samples["id_sealed"]),
        "identifier_search_overhead_pct": _overhead(samples["id_sealed"], samples["id_clear"]),
    }


def _overhead(on: list[float], off: list[float]) -> float:
    return round((statistics.median(on) / statistics.median(off) - 1) * 100, 1)


def seal_speed(clear: Gate) -> dict:
    settings = clear.settings.model_copy(update={"encrypt_identifiers": True})
    rows = sealing.rows_of_sealed_types(clear.engine)
    # The loader extracted index rows in worker processes: compile this process's Patient extractors
    # first (a one-off ~1 s that `yilian crypto seal` also pays), so the rate is the steady one.
    some = handle(clear, READER, FhirRequest("GET", "Patient", [("_count", "1")])).resource()
    extract(some["entry"][0]["resource"])
    began = time.perf_counter()
    report = sealing.seal(clear.engine, codec_for(settings))
    seconds = time.perf_counter() - began
    assert sealing.status(clear.engine).clear == 0
    return {
        "rows": rows,
        "sealed": report.sealed,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6, help="even: each store goes first equally often")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require(SYNTHEA)
    loads: dict[str, dict] = {}
    stores: dict[str, Gate] = {}
    for order in (("clear", "sealed"), ("sealed", "clear")):
        for name in order:
            stores[name] = store(name == "sealed")
            entries, seconds = load_ours(stores[name], SYNTHEA, workers=args.workers)
            if name not in loads or seconds < loads[name]["seconds"]:
                loads[name] = {
                    "entries": entries,
                    "seconds": round(seconds, 2),
                    "per_s": round(entries / seconds),
                }
    clear, sealed = stores["clear"], stores["sealed"]
    emit(
        {
            "benchmark": "identifier-encryption-cost",
            "ingest_clear": loads["clear"],
            "ingest_sealed": loads["sealed"],
            "ingest_overhead_pct": round(
                (loads["sealed"]["seconds"] / loads["clear"]["seconds"] - 1) * 100, 1
            ),
            **reads(clear, sealed, args.rounds),
            "seal_existing": seal_speed(clear),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()

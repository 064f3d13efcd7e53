"""Real-time matching against a large index: p50/p95 of matching one arriving record (candidate look-up,
scoring, decision), of indexing it (features, keys, links, persons), and of a whole registration through
the router (the Patient stored, matched, its golden Person written, the request audited).

The index is filled directly (features and keys bulk-inserted) with a synthetic population; the arriving
records are held-out registrations of the same residents (so most have a match in the index). The same
run is made twice, each on its own database: identifiers in clear, and sealed (`encrypt_identifiers`:
the store's records and the index's features sealed, keys and terms as keyed hashes).

    .venv/bin/python -m bench.identity_realtime --size 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import discarded, emit, fresh_gate, machine, percentiles
from yilian.config import Settings
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.identity import block, realtime
from yilian.identity import model as models
from yilian.identity.normalize import features
from yilian.identity.sealing import DEMOGRAPHICS, FEATURES, dump, stored_key, stored_term
from yilian.identity.settings import PERSON_SPEC
from yilian.identity.synthetic import build_population
from yilian.store import dialect, schema
from yilian.wiring import build_gate

MEMBER = Caller("his", "HIS", "m-community-1", frozenset({"member-system"}), "TREAT")


def fill(gate, patients: list[tuple[str, dict]]) -> None:  # noqa: ANN001
    cols = (
        "patient_id",
        "version",
        "member",
        "person_id",
        "active",
        "features",
        "demographics",
        "name_chars",
        "name_key",
        "updated",
    )
    with gate.engine.begin() as conn:
        for i in range(0, len(patients), 20_000):
            records, keys = [], []
            for member, p in patients[i : i + 20_000]:
                f = features(p)
                demo = realtime.demographics(p, member)
                records.append(
                    (
                        p["id"],
                        1,
                        member,
                        p["id"],
                        True,
                        dump(conn, FEATURES, p["id"], f),
                        dump(conn, DEMOGRAPHICS, p["id"], demo),
                        stored_term(conn, "name_chars", f.get("name_chars")),
                        stored_term(conn, "name_key", f.get("name_key")),
                        time.time(),
                    )
                )
                keys.extend((stored_key(conn, k), p["id"]) for k in block.keys(PERSON_SPEC, f))
            dialect.insert_many(conn, "mpi_records", cols, records)
            dialect.insert_many(conn, "mpi_keys", ("key", "patient_id"), list(dict.fromkeys(keys)))


def timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="records in the index")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--database-url", help="PostgreSQL (emptied first): the clear run only")
    args = parser.parse_args()
    emit(run(args.size, args.queries, args.database_url))


def run(size: int = 100_000, queries: int = 500, database_url: str | None = None) -> dict:
    pop = build_population(size + queries, seed=5)
    indexed, arriving = pop.patients[:size], pop.patients[size:][:queries]
    out = {"bench": "identity_realtime", "indexed_records": size}
    with discarded(fresh_gate(database_url)) as gate:
        out["clear"] = run_one(gate, indexed, arriving)
    if database_url is None:
        with discarded(sealed_gate()) as gate:  # its keys' folder too
            out["sealed"] = run_one(gate, indexed, arriving)
    return {**out, **machine()}


def sealed_gate():  # noqa: ANN201 - a Gate
    """A new SQLite database whose gate seals identifiers (keys in its own folder)."""
    folder = Path(tempfile.mkdtemp(prefix="yilian-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        encrypt_identifiers=True,
        key_dir=str(folder / "keys"),
        _env_file=None,
    )
    gate = build_gate(settings)
    schema.upgrade(gate.engine)
    return gate


def run_one(gate, indexed: list, arriving: list) -> dict:  # noqa: ANN001
    started = time.perf_counter()
    fill(gate, indexed)
    fill_s = time.perf_counter() - started
    match_ms, arrive_ms, register_ms = [], [], []
    with gate.engine.connect() as conn:
        model = models.active(conn, PERSON_SPEC)
        for _m, p in arriving[:20]:
            realtime.match(conn, PERSON_SPEC, model, features(p))  # warm caches
        for _m, p in arriving:
            match_ms.append(timed(lambda p=p: realtime.match(conn, PERSON_SPEC, model, features(p))))
    with gate.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin() as tx:
        for i, (member, p) in enumerate(arriving):
            arrive_ms.append(
                timed(
                    lambda p=p, i=i, member=member: realtime.arrive(
                        conn, PERSON_SPEC, model, f"q-{i}", 1, member, p
                    )
                )
            )
        tx.rollback()
    for _m, p in arriving[:200]:
        body = {k: v for k, v in p.items() if k != "id"}
        register_ms.append(
            timed(lambda body=body: handle(gate, MEMBER, FhirRequest("POST", "Patient", body=body)))
        )
    return {
        "fill_index_s": round(fill_s, 1),
        "match": percentiles(match_ms),
        "index_and_link": percentiles(arrive_ms),
        "register_through_router": percentiles(register_ms),
        "database": gate.engine.dialect.name,
    }


if __name__ == "__main__":
    main()

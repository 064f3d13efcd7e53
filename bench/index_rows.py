"""Index rows written per resource, on the Synthea set and on the HL7 ORU bench's messages.

Loads each into a fresh database through the loaders' own path, then counts the rows of every index
table per stored resource, and the parameters with the most rows (to find rows worth not writing).
"""

from __future__ import annotations

import argparse
from collections import Counter

from sqlalchemy import text

from bench.common import SYNTHEA, emit, fresh_gate, require
from bench.ingest import load_ours
from bench.ingest_hl7 import MEMBER, PATIENTS, message, registration
from yilian.demo.local_codes import code_tables
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.ingest.intake import hl7_items
from yilian.ingest.pipeline import ingest
from yilian.ingest.store import save_code_tables
from yilian.store.search.keys import param_key
from yilian.store.search.params import search_params
from yilian.store.tables import INDEX_TABLES


def count_rows(gate: Gate, top: int) -> dict:
    with gate.engine.connect() as conn:
        resources = conn.execute(text("SELECT count(*) FROM resources")).scalar_one()
        per_table, per_param = {}, Counter()
        types = [r[0] for r in conn.execute(text("SELECT DISTINCT type FROM resources"))]
        names = {param_key(t, c): f"{t}.{c}" for t in types for c in search_params(t)}
        names |= {param_key(t, c + ":text"): f"{t}.{c}:text" for t in types for c in search_params(t)}
        for name, table in INDEX_TABLES.items():
            rows = conn.execute(text(f"SELECT param, count(*) FROM {table.name} GROUP BY param")).all()
            per_table[name] = sum(n for _, n in rows)
            for param, n in rows:
                per_param[f"{table.name}:{names.get(param, param)}"] += n
    total = sum(per_table.values())
    return {
        "resources": resources,
        "index_rows": total,
        "index_rows_per_resource": round(total / resources, 2),
        "per_table_per_resource": {k: round(v / resources, 2) for k, v in per_table.items()},
        "top_params": dict(per_param.most_common(top)),
    }


def synthea(top: int) -> dict:
    require(SYNTHEA)
    gate = fresh_gate()
    load_ours(gate, SYNTHEA, workers=2)
    return count_rows(gate, top)


def hl7(count: int, top: int) -> dict:
    gate = fresh_gate()
    body = {"resourceType": "Organization", "id": MEMBER, "name": "bench"}
    handle(gate, operator(), FhirRequest("PUT", f"Organization/{MEMBER}", body=body))
    save_code_tables(gate.engine, MEMBER, code_tables(MEMBER))
    ingest(gate, [hl7_items(registration(n), member=MEMBER)[0] for n in range(min(count, PATIENTS))])
    results = ingest(gate, [hl7_items(message(n), member=MEMBER, source="bench")[0] for n in range(count)])
    assert all(r.status == "processed" for r in results), [r.error for r in results if r.error][:3]
    return count_rows(gate, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    emit({"benchmark": "index-rows", "synthea": synthea(args.top), "hl7_oru": hl7(args.messages, args.top)})


if __name__ == "__main__":
    main()

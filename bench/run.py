"""`make bench`: every benchmark in one run, each printing one JSON line.

Ingest loads the Synthea set (ours and the raw baseline); the read benchmarks then run on the store
that ingest loaded. Pass --database-url to measure PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import argparse

from bench import (
    audit_log,
    audit_overhead,
    everything,
    export,
    governance,
    identity_alliance,
    identity_batch,
    identity_febrl,
    identity_realtime,
    ingest,
    ingest_hl7,
)
from bench.common import SYNTHEA, discard, emit, require


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    require(SYNTHEA)
    kept: list = []
    emit(ingest.run(SYNTHEA, args.database_url, keep=kept))
    emit(everything.measure(kept[0]))
    emit(governance.run_all(kept[0]))
    emit(audit_overhead.measure(kept[0]))
    emit(export.measure(kept[0]))
    discard(kept.pop())  # the reading benchmarks are done with it: its connections closed, its 100 MB deleted
    emit(audit_log.measure_append(args.database_url))
    emit(audit_log.measure_large(args.database_url))
    emit(ingest_hl7.run(5000, args.database_url))
    for result in identity_febrl.run() + identity_alliance.run_all(size=20_000, demo_residents=2000):
        emit(result)
    emit(identity_batch.run(size=100_000))  # 1,000,000 records: python -m bench.identity_batch --size 1000000
    emit(identity_realtime.run(size=100_000, queries=300, database_url=args.database_url))


if __name__ == "__main__":
    main()

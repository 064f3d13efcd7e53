"""`make bench`: every benchmark in one run, each printing one JSON line.

Ingest loads the Synthea set (ours and the raw baseline); the read benchmarks then run on the store
that ingest loaded. Pass --database-url to measure PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import argparse

from bench import everything, governance, ingest
from bench.common import SYNTHEA, emit, require


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    require(SYNTHEA)
    kept: list = []
    emit(ingest.run(SYNTHEA, args.database_url, keep=kept))
    emit(everything.measure(kept[0]))
    emit(governance.run_all(kept[0]))


if __name__ == "__main__":
    main()

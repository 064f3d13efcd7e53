"""`python -m yilian.spec SOURCE_DIR`: rebuild the shipped definitions from the official bundles
(e.g. ../shared/data/fhir-r4-spec, the same files as built from the hl7.fhir.core 4.0.1 package)."""

import sys
from pathlib import Path

from yilian.spec import write_slim

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m yilian.spec SOURCE_DIR (holding the official definition bundles)")
    for name, before, after in write_slim(Path(sys.argv[1])):
        print(f"{name}: {before:,} → {after:,} bytes of JSON")

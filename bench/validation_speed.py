"""Mean cost of yilian.fhir.validation.validate per resource over the Synthea R4 set.

Usage: python bench/validation_speed.py [path/to/set-a-100-patients.tar.gz]
Prints {"resources": n, "mean_us": x} on stdout; the one-off load time of the definitions and the
count of invalid resources go to stderr.  Skips (exit 0) with a message when the data is absent.
"""

from __future__ import annotations

import json
import sys
import tarfile
import time
from pathlib import Path

import orjson

from yilian.fhir import validation

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT = REPO_ROOT / ".." / "shared" / "data" / "synthea-r4" / "set-a-100-patients.tar.gz"


def load_resources(path: Path) -> list[dict]:
    resources = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".json"):
                bundle = orjson.loads(tar.extractfile(member).read())
                resources += [entry["resource"] for entry in bundle["entry"]]
    return resources


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"skipped: Synthea R4 set not found at {path}", file=sys.stderr)
        return 0
    resources = load_resources(path)
    started = time.perf_counter()
    validation.resource_types()  # the one-off compile of the StructureDefinitions
    print(f"definitions loaded in {time.perf_counter() - started:.3f} s", file=sys.stderr)
    invalid = sum(1 for r in resources if validation.validate(r))  # also warms the caches
    started = time.perf_counter()
    for resource in resources:
        validation.validate(resource)
    mean_us = (time.perf_counter() - started) / len(resources) * 1e6
    print(f"invalid resources: {invalid}", file=sys.stderr)
    print(json.dumps({"resources": len(resources), "mean_us": round(mean_us, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mean cost of yilian.store.search.extract.extract per resource over 20 Synthea R4 bundles.

Usage: python bench/extract_speed.py [path/to/set-a-100-patients.tar.gz]
Prints {"resources": n, "mean_us": x, "rows_per_resource": y} on stdout: the mean over 5 timed passes,
after a first pass that compiles the parameters and warms the caches (its time goes to stderr).
The urn:uuid references of the transaction bundles are rewritten to "Type/uuid" first, as the server
does before indexing.  Exits 1 with a message when the data is absent.
"""

from __future__ import annotations

import json
import sys
import tarfile
import time
from pathlib import Path

import orjson

from yilian.store.search.extract import extract

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT = REPO_ROOT / ".." / "shared" / "data" / "synthea-r4" / "set-a-100-patients.tar.gz"
BUNDLES = 20
ROUNDS = 5


def load_resources(path: Path, bundles: int = BUNDLES) -> list[dict]:
    """The resources of the first `bundles` bundles of the archive, urn:uuid references resolved."""
    resources: list[dict] = []
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".json")):
                continue
            bundle = orjson.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
            resources += resolve_urn_uuids(bundle)
            bundles -= 1
            if bundles == 0:
                break
    return resources


def resolve_urn_uuids(bundle: dict) -> list[dict]:
    """The bundle's resources with each `urn:uuid:` reference replaced by "Type/uuid" of its entry."""
    targets = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['fullUrl'][9:]}"
        for e in bundle["entry"]
        if e.get("fullUrl", "").startswith("urn:uuid:")
    }
    resources = [e["resource"] for e in bundle["entry"]]
    for resource in resources:
        _rewrite(resource, targets)
    return resources


def _rewrite(node: object, targets: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in targets:
            node["reference"] = targets[ref]
        for value in node.values():
            if isinstance(value, dict | list):
                _rewrite(value, targets)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, targets)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"error: the Synthea R4 set is not at {path} (it lives in ../shared/data)", file=sys.stderr)
        return 1
    resources = load_resources(path)
    started = time.perf_counter()
    rows = sum(_row_count(extract(r)) for r in resources)  # compiles every type once, warms caches
    print(f"first pass (with compiling) {time.perf_counter() - started:.3f} s", file=sys.stderr)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for resource in resources:
            extract(resource)
    elapsed = time.perf_counter() - started
    result = {
        "resources": len(resources),
        "mean_us": round(elapsed / (ROUNDS * len(resources)) * 1e6, 2),
        "rows_per_resource": round(rows / len(resources), 2),
    }
    print(json.dumps(result))
    return 0


def _row_count(rows: object) -> int:
    return sum(len(getattr(rows, name)) for name in rows.__slots__)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())

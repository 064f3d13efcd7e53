"""The FHIR R4 (4.0.1) definitions Yilian ships: the official StructureDefinitions and SearchParameters,
reduced to what the code reads (`load`), and the reduction itself (`slim`, run by `python -m yilian.spec`).

The official bundles are large (profiles-resources.json: 12.6 MB of JSON, mostly element definitions'
prose, constraints, mappings and differentials). Every process parsed them several times on first use
(the validator, the search parameters and the extractors' element table each read them): 0.9 s of start-up
in the server, in `yilian load`, and in each of its worker processes. The shipped copies keep only the
fields in KEPT, so the same code reads the same values from a fraction of the bytes.
"""

from __future__ import annotations

import functools
import gc
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import orjson

SPEC_DIR = Path(__file__).resolve().parent  # package data, see pyproject.toml
BUNDLES = ("profiles-types.json.gz", "profiles-resources.json.gz", "search-parameters.json.gz")

# What the code reads (fhir/validation.py, store/search/params.py, store/search/extract.py), by kind.
KEPT = {
    "StructureDefinition": ("resourceType", "id", "type", "kind", "abstract", "snapshot"),
    "element": ("path", "min", "max", "type", "contentReference", "sliceName", "representation"),
    "type": ("code", "extension"),
    "SearchParameter": ("resourceType", "id", "code", "type", "base", "expression", "target"),
    "CompartmentDefinition": ("resourceType", "id", "resource"),
    "resource": ("code", "param"),
}
# The Patient compartment is the only CompartmentDefinition read; other resources are dropped.
COMPARTMENTS = ("patient",)


T = TypeVar("T")


def built_once(build: Callable[[], T]) -> Callable[[], T]:
    """Cache what a function derives from the definitions, and build it with the cyclic garbage collector
    paused: a build makes some hundred thousand objects that live as long as the process, and the collector
    would rescan the growing heap many times over (the extractors' element table, built after the
    validator: 0.23 s with the collector running, 0.02 s paused)."""

    @functools.cache
    def once() -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return build()
        finally:
            if enabled:
                gc.enable()

    functools.update_wrapper(once, build)
    return once


def load(name: str) -> list[dict]:
    """The resources of one shipped bundle, e.g. "profiles-types.json.gz".

    Not cached: callers keep what they derive, not the definitions.
    """
    bundle = orjson.loads(gzip.decompress((SPEC_DIR / name).read_bytes()))
    return [entry["resource"] for entry in bundle["entry"]]


def slim(bundle: dict) -> dict:
    """An official definitions Bundle reduced to KEPT (entries in the same order)."""
    entries = [{"resource": _slim_resource(e["resource"])} for e in bundle["entry"]]
    return {"resourceType": "Bundle", "type": "collection", "entry": [e for e in entries if e["resource"]]}


def _slim_resource(resource: dict) -> dict | None:
    kind = resource["resourceType"]
    if kind == "CompartmentDefinition" and resource.get("id") not in COMPARTMENTS:
        return None
    if kind not in KEPT:
        return None
    out = _only(resource, KEPT[kind])
    if kind == "StructureDefinition":
        out["snapshot"] = {"element": [_slim_element(el) for el in resource["snapshot"]["element"]]}
    elif kind == "CompartmentDefinition":
        out["resource"] = [_only(r, KEPT["resource"]) for r in resource.get("resource", ())]
    return out


def _slim_element(element: dict) -> dict:
    out = _only(element, KEPT["element"])
    if "type" in out:
        out["type"] = [_only(t, KEPT["type"]) for t in out["type"]]
    return out


def _only(item: dict, keys: tuple[str, ...]) -> dict:
    return {k: item[k] for k in keys if k in item}


def write_slim(source_dir: Path, target_dir: Path = SPEC_DIR) -> list[tuple[str, int, int]]:
    """Slim each official bundle in source_dir into target_dir; (name, bytes before, after) for each.
    gzip's mtime is 0 so the same input always gives the same file."""
    sizes = []
    for name in BUNDLES:
        raw = gzip.decompress((source_dir / name).read_bytes())
        data = orjson.dumps(slim(orjson.loads(raw)))
        (target_dir / name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        sizes.append((name, len(raw), len(data)))
    return sizes

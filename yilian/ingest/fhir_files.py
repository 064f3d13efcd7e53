"""Reading FHIR data from files: Bundles (.json), NDJSON (.ndjson) and .tar.gz / .tgz archives of them.

Each source becomes transaction Bundles posted through the router, so loading obeys the same validation,
gate and store path as the API. Directory resources (Organization, Practitioner, Location) that carry
an identifier but no `ifNoneExist` get one, so the same hospital sent in a hundred bundles (as Synthea
does) is stored once.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson

DEDUPED_TYPES = ("Organization", "Practitioner", "Location")
NDJSON_BATCH = 500


@dataclass
class Source:
    name: str  # file name (and member within an archive)
    data: bytes
    read_to: int = 0  # bytes of the input files read once this source was: how far a load has come

    def without_data(self) -> Source:
        """The same source, named only (what a worker sends back once it has planned the data)."""
        return Source(self.name, b"", self.read_to)


def input_files(paths: list[Path]) -> list[Path]:
    """The files `iter_sources` reads, in its order (folders walked in name order)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += input_files(sorted(p for p in path.rglob("*") if p.is_file()))
        elif _is_archive(path) or path.suffix in (".json", ".ndjson"):
            out.append(path)
    return out


def input_size(paths: list[Path]) -> int:
    """Bytes `iter_sources` will read (archives as stored, compressed): a load's progress is measured
    against this, which needs no reading (counting an archive's files would decompress all of it)."""
    return sum(p.stat().st_size for p in input_files(paths))


def iter_sources(paths: list[Path]) -> Iterator[Source]:
    read = 0  # bytes of the input files before this one
    for path in input_files(paths):
        size = path.stat().st_size
        if _is_archive(path):
            yield from _archive(path, read)
        else:
            yield Source(str(path), path.read_bytes(), read + size)
        read += size


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _archive(path: Path, read_before: int) -> Iterator[Source]:
    """The archive's files in its own order, streamed: listing the members first decompresses the whole
    archive before the first file can be handed on (and once more to read them)."""
    with path.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith((".json", ".ndjson")):
                handle = tar.extractfile(member)
                if handle is not None:
                    data = handle.read()
                    yield Source(f"{path.name}:{member.name}", data, read_before + raw.tell())


def to_bundles(source: Source) -> Iterator[dict]:
    """The transaction Bundles to post for one source."""
    if source.name.endswith(".ndjson"):
        yield from _ndjson_bundles(source.data)
        return
    doc = orjson.loads(source.data)
    if doc.get("resourceType") == "Bundle" and doc.get("type") in ("transaction", "batch"):
        add_identity_conditions(doc)
        yield doc
    elif doc.get("resourceType") == "Bundle":
        yield _as_transaction([e.get("resource") for e in doc.get("entry", []) if e.get("resource")])
    else:
        yield _as_transaction([doc])


def _ndjson_bundles(data: bytes) -> Iterator[dict]:
    batch: list[dict] = []
    for line in data.splitlines():
        if line.strip():
            batch.append(orjson.loads(line))
            if len(batch) >= NDJSON_BATCH:
                yield _as_transaction(batch)
                batch = []
    if batch:
        yield _as_transaction(batch)


def _as_transaction(resources: list[dict]) -> dict:
    """Resources with ids are PUT (keeping their ids, so a re-load updates instead of duplicating)."""
    entries = []
    for res in resources:
        rtype = res.get("resourceType", "")
        if res.get("id"):
            entries.append({"resource": res, "request": {"method": "PUT", "url": f"{rtype}/{res['id']}"}})
        else:
            entries.append({"resource": res, "request": {"method": "POST", "url": rtype}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def add_identity_conditions(bundle: dict) -> None:
    for entry in bundle.get("entry", []):
        res, req = entry.get("resource") or {}, entry.get("request") or {}
        if (
            res.get("resourceType") in DEDUPED_TYPES
            and req.get("method") == "POST"
            and "ifNoneExist" not in req
        ):
            ident = next((i for i in res.get("identifier", []) if i.get("system") and i.get("value")), None)
            if ident:
                token = quote(f"{ident['system']}|{ident['value']}", safe="|:/")
                req["ifNoneExist"] = f"identifier={token}"

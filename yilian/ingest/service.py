"""Ingest use cases for the CLI, the pages and the demo: load a member's mapping, ingest files, fix and
replay dead letters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from yilian.gate.repository import Gate
from yilian.ingest import store
from yilian.ingest.csv.mapping import parse_mapping
from yilian.ingest.csv.reader import csv_items
from yilian.ingest.errors import IngestError
from yilian.ingest.intake import fhir_items, hl7_items
from yilian.ingest.pipeline import Result, ingest, replay
from yilian.ingest.store import Incoming

HL7_SUFFIXES = (".hl7", ".hl7v2", ".txt", ".er7", ".msg")
FHIR_SUFFIXES = (".json", ".ndjson", ".tar.gz", ".tgz", ".tar")


def register_mapping(gate: Gate, member: str, toml_text: str) -> int:
    """Check and keep a member's CSV mapping and code tables; returns how many codes are mapped."""
    mapping = parse_mapping(toml_text)
    if mapping.member and mapping.member != member:
        raise IngestError(f"The mapping is for member {mapping.member}, not {member}", location="mapping")
    store.save_mapping(gate.engine, member, toml_text)
    return store.save_code_tables(gate.engine, member, mapping.codes)


def format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(HL7_SUFFIXES):
        return "hl7v2"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(FHIR_SUFFIXES):
        return "fhir"
    return None


def files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and format_of(p))
    return [path]


def items_of(
    gate: Gate,
    path: Path,
    *,
    member: str | None,
    fmt: str | None = None,
    kind: str | None = None,
    received_at: float | None = None,
) -> list[Incoming]:
    fmt = fmt or format_of(path)
    if fmt == "hl7v2":
        return hl7_items(path.read_bytes(), member=member, source=path.name, received_at=received_at)
    if fmt == "csv":
        if not member:
            raise IngestError(f"{path.name}: a CSV export needs --member")
        text = store.load_mapping(gate.engine, member)
        if text is None:
            raise IngestError(f"{path.name}: member {member} has no CSV mapping yet; pass --mapping FILE")
        return csv_items(
            path.read_bytes(), path.name, parse_mapping(text), member, kind=kind, received_at=received_at
        )
    if fmt == "fhir":
        if not member:
            raise IngestError(f"{path.name}: FHIR files need --member")
        return fhir_items(path, member, received_at)
    raise IngestError(f"{path.name}: unknown format; pass --format hl7v2, csv or fhir")


def ingest_paths(
    gate: Gate,
    paths: list[Path],
    *,
    member: str | None,
    fmt: str | None = None,
    kind: str | None = None,
    workers: int = 0,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> list[Result]:
    """Ingest every message of the files; `on_total(n)` learns how many there are once they are read,
    `on_progress(k)` how many more are done."""
    items: list[Incoming] = []
    for path in paths:
        for file in files_of(path):
            items += items_of(gate, file, member=member, fmt=fmt, kind=kind)
    if on_total:
        on_total(len(items))
    return ingest(gate, items, workers=workers, on_progress=on_progress)


def fix(gate: Gate, message_id: int, payload: bytes, charset: str = "utf-8") -> list[Result]:
    """Replace a dead letter's content with the corrected one and process it again."""
    row = store.get_message(gate.engine, message_id)
    if row is None:
        raise IngestError(f"No message {message_id}")
    if row.status not in (store.REJECTED, store.RECEIVED):
        raise IngestError(f"Message {message_id} is {row.status}, not a dead letter: nothing to fix")
    store.replace_payload(gate.engine, message_id, payload, charset)
    return replay(gate, [message_id])

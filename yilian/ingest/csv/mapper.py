"""A stored CSV row group (header + rows, as the member sent them) to a transaction Bundle, through the
member's mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from yilian.ingest.bundle import MappedBundle
from yilian.ingest.codes import CodeMap, Unmapped
from yilian.ingest.csv.kinds import PER_ROW, results
from yilian.ingest.csv.mapping import CsvMapping, parse_mapping
from yilian.ingest.csv.reader import read_rows
from yilian.ingest.csv.row import Row
from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.types import member_system


@dataclass
class MappedRows:
    bundle: dict
    event_at: str | None
    unmapped: list[Unmapped] = field(default_factory=list)


@lru_cache(maxsize=32)
def _parsed(mapping_text: str) -> CsvMapping:
    """A member's mapping, parsed once per process: every row group of its exports is mapped with it, and
    parsing its TOML (code tables included) costs more than mapping a row. Read, never changed."""
    return parse_mapping(mapping_text)


def map_rows(
    payload: bytes, kind: str, member: str | None, mapping_text: str | None, codes: CodeMap
) -> MappedRows:
    if not member:
        raise IngestError("A CSV export needs its member (--member)")
    if not mapping_text:
        raise IngestError(
            f"Member {member} has no CSV mapping: load one with `yilian ingest file ... --mapping FILE`",
            location="mapping",
        )
    mapping = _parsed(mapping_text)
    name = kind.removeprefix("csv:")
    spec = mapping.files.get(name)
    if spec is None:
        raise IngestError(f"The mapping of {member} has no files.{name}", location="mapping")
    header, rows = read_rows(payload.decode("utf-8"))
    at = {col: i for i, col in enumerate(header)}
    out = MappedBundle()
    codes.take_unmapped()
    mrn_system = mapping.mrn_system or member_system(member, "mrn")
    parsed = []
    for n, raw in enumerate(rows, start=2):
        values = dict(spec.defaults)
        values.update(
            {f: raw[at[col]] for f, col in spec.columns.items() if col in at and at[col] < len(raw)}
        )
        parsed.append(Row(values, n, spec, member, mrn_system, codes, out))
    for row in parsed:  # one clinician table for the group, so a doctor is one entry
        row.staff = parsed[0].staff
        row.events = parsed[0].events
    if name == "results":
        results(parsed)
    else:
        for row in parsed:
            PER_ROW[name](row)
    events = sorted(parsed[0].events) if parsed else []
    return MappedRows(out.bundle(), events[0] if events else None, codes.take_unmapped())

"""A CSV export cut into messages: each row, or each group of rows sharing the kind's `group_by` field
(a lab report's items), becomes one stored message holding the header and its rows as sent, so a bad
row is refused, fixed and replayed alone."""

from __future__ import annotations

import csv
import io
import time

from yilian.ingest.csv.mapping import CsvMapping, FileSpec
from yilian.ingest.errors import IngestError
from yilian.ingest.store import Incoming


def decode_csv(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, codec): the mapping's encoding, else UTF-8 (BOM dropped), else GB 18030."""
    for codec in dict.fromkeys(c for c in (encoding, "utf-8-sig", "gb18030") if c):
        try:
            return raw.decode(codec).lstrip("\ufeff"), "utf-8" if codec == "utf-8-sig" else codec
        except UnicodeDecodeError:
            continue
    raise IngestError("The file is neither UTF-8 nor GB 18030 text", location="file")


def read_rows(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise IngestError("The file has no header row", location="file")
    return [h.strip() for h in rows[0]], rows[1:]


def csv_items(
    raw: bytes,
    file_name: str,
    mapping: CsvMapping,
    member: str,
    *,
    kind: str | None = None,
    received_at: float | None = None,
) -> list[Incoming]:
    spec = mapping.files.get(kind) if kind else mapping.kind_of(file_name)
    if spec is None:
        raise IngestError(
            f"{file_name}: no files.<kind> of the mapping matches this file name; name one with --kind",
            location="file",
        )
    text, codec = decode_csv(raw, mapping.encoding)
    header, rows = read_rows(text)
    missing = [col for col in spec.columns.values() if col not in header]
    if missing and len(missing) == len(spec.columns):
        raise IngestError(
            f"{file_name}: none of the mapped columns are in the header {header[:8]}", location="header"
        )
    at = received_at or time.time()
    out = []
    for key, group in _groups(header, rows, spec):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(group)
        out.append(
            Incoming(
                member, "csv", f"csv:{spec.kind}", buf.getvalue().encode("utf-8"), key, "utf-8", file_name, at
            )
        )
    del codec
    return out


def _groups(header: list[str], rows: list[list[str]], spec: FileSpec) -> list[tuple[str, list[list[str]]]]:
    column = spec.columns.get(spec.group_by or "")
    if column is None or column not in header:
        return [(f"row{i}", [row]) for i, row in enumerate(rows, start=2)]
    at = header.index(column)
    groups: dict[str, list[list[str]]] = {}
    for row in rows:
        groups.setdefault(row[at] if at < len(row) else "", []).append(row)
    return list(groups.items())

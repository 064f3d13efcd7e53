"""What arrives, cut into the messages the store keeps: HL7 v2 bytes (one MLLP frame, or a file of many
messages), FHIR files. CSV exports are cut by yilian.ingest.csv.reader.

Nothing is refused here: bytes that cannot even be decoded are still stored, as one message, and the
refusal (with its reason) happens when it is processed, so it lands in the dead letters.
"""

from __future__ import annotations

import time
from pathlib import Path

from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.decode import decode, split_messages
from yilian.ingest.store import Incoming


def header_fields(text: str) -> tuple[str, str, str]:
    """(message type, control id, sending facility) read leniently from MSH, '' where unreadable."""
    if not text.startswith("MSH") or len(text) < 4:
        return "", "", ""
    fields = text.split("\r", 1)[0].split(text[3])
    comp = "^"
    if len(fields) > 1 and len(fields[1]) >= 1:
        comp = fields[1][0]

    def at(n: int) -> str:
        return fields[n - 1] if len(fields) >= n else ""  # MSH-n is split index n-1

    kind = "^".join(at(9).split(comp)[:2]) if at(9) else ""
    return kind, at(10).strip(), at(4).split(comp)[0].strip()


def hl7_items(
    raw: bytes,
    *,
    member: str | None = None,
    source: str | None = None,
    received_at: float | None = None,
    charset: str | None = None,
) -> list[Incoming]:
    """The messages in `raw`; each names its member (`member`, else MSH-4's first component)."""
    received_at = received_at or time.time()
    try:
        decoded = decode(raw, charset)
        texts = split_messages(decoded.text)
    except IngestError:
        return [Incoming(member, "hl7v2", "?", raw, None, charset, source, received_at)]
    if len(texts) == 1:
        kind, control, facility = header_fields(texts[0])
        return [
            Incoming(
                member or facility or None,
                "hl7v2",
                kind or "?",
                raw,
                control or None,
                decoded.charset,
                source,
                received_at,
            )
        ]
    out = []
    for text in texts:
        kind, control, facility = header_fields(text)
        payload = text.encode(decoded.charset, "replace")
        out.append(
            Incoming(
                member or facility or None,
                "hl7v2",
                kind or "?",
                payload,
                control or None,
                decoded.charset,
                source,
                received_at,
            )
        )
    return out


def fhir_items(path: Path, member: str, received_at: float | None = None) -> list[Incoming]:
    """Each Bundle, NDJSON file or resource in a file, folder or archive, as one message."""
    from yilian.ingest.fhir_files import iter_sources

    at = received_at or time.time()
    return [
        Incoming(member, "fhir", s.name[-64:], s.data, None, "utf-8", s.name, at)
        for s in iter_sources([path])
    ]

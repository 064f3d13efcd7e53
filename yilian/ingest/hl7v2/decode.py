"""From bytes on the wire or in a file to the text of each HL7 v2 message.

Members send what their HIS vendor wrote: LF or CRLF instead of CR, MLLP framing left in a file, batch
headers (FHS/BHS), and Chinese text in GB 18030 / GBK as often as in UTF-8. The character set is taken
from MSH-18 when it is declared; otherwise UTF-8, and GB 18030 when the bytes are not UTF-8 (the
national standard character set, a superset of GBK and GB 2312).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from yilian.ingest.errors import DATA_TYPE, REQUIRED_MISSING, SEGMENT_SEQUENCE, IngestError

FRAMING = bytes([0x0B, 0x1C])
BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")
# HL7 table 0211 names (and what Chinese vendors write) -> Python codecs.
CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "UNICODEUTF8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "GB18030": "gb18030",
    "GB180302000": "gb18030",
    "GBK": "gb18030",
    "GB2312": "gb18030",
    "CP936": "gb18030",
}


@dataclass
class Decoded:
    text: str  # segments separated by CR
    charset: str  # the codec used


def charset_of(raw: bytes) -> str | None:
    """The codec MSH-18 declares, or None (read from the bytes: MSH is ASCII up to that field)."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 4:
        return None
    end = min(i for i in (raw.find(b"\r", start), raw.find(b"\n", start), len(raw)) if i >= 0)
    fields = raw[start:end].split(raw[start + 3 : start + 4])
    if len(fields) <= 17 or not fields[17].strip():
        return None
    return _codec(fields[17])


@lru_cache(maxsize=256)  # a member declares the same MSH-18 in every message
def _codec(declared: bytes) -> str:
    name = declared.split(b"~")[0].decode("ascii", "replace").upper()
    return CHARSETS.get(re.sub(r"[\s_-]", "", name), "declared:" + name)


def decode(raw: bytes, charset: str | None = None) -> Decoded:
    """Bytes to text with CR segment separators; `charset` (a codec) overrides MSH-18."""
    raw = raw.strip(FRAMING + b" \t\r\n\x00")
    declared = charset or charset_of(raw)
    tried = [c for c in (declared, "utf-8", "gb18030") if c and not c.startswith("declared:")]
    for codec in dict.fromkeys(tried):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        text = text.lstrip("\ufeff")  # a byte-order mark left by a Windows editor
        if "\n" in text:
            text = text.replace("\r\n", "\r").replace("\n", "\r")
        return Decoded(text, codec)
    raise IngestError(
        f"The message is not valid text in {declared or 'UTF-8'} nor in GB 18030",
        location="MSH-18",
        code=DATA_TYPE,
    )


def split_messages(text: str) -> list[str]:
    """The messages in a text (a file may hold many, with or without batch segments)."""
    messages: list[list[str]] = []
    for line in text.split("\r"):
        line = line.strip("\x0b\x1c \t\x00")
        if not line or line[:3] in BATCH_SEGMENTS:
            continue
        if line.startswith("MSH"):
            messages.append([line])
        elif not messages:
            raise IngestError(
                f"Segment {line[:3]!r} comes before any MSH: not an HL7 v2 message",
                location="MSH",
                code=SEGMENT_SEQUENCE,
            )
        else:
            messages[-1].append(line)
    if not messages:
        raise IngestError("No MSH segment: not an HL7 v2 message", location="MSH", code=REQUIRED_MISSING)
    return ["\r".join(segments) for segments in messages]


def check_header(text: str) -> None:
    """Refuse a message whose separators cannot be trusted (every later field would be misread)."""
    if len(text) < 8 or not text.startswith("MSH"):
        raise IngestError("The message does not start with MSH", location="MSH", code=SEGMENT_SEQUENCE)
    sep = text[3]
    if sep.isalnum() or sep.isspace():
        raise IngestError(f"MSH-1 field separator {sep!r} is not a separator character", location="MSH-1")
    end = text.find(sep, 4)
    chars = text[4:end] if end > 0 else text[4:]
    if (
        len(chars) not in (4, 5)
        or len(set(chars)) != len(chars)
        or any(c.isalnum() or c == sep for c in chars)
    ):
        raise IngestError(
            f"MSH-2 encoding characters {chars!r} are invalid: expected 4 distinct separators such as ^~\\&",
            location="MSH-2",
            code=DATA_TYPE,
        )
    bad = _bad_segment(sep).search(text)
    if bad:
        line = text[bad.end() :].split("\r", 1)[0]
        raise IngestError(
            f"Segment {line[:20]!r} does not start with a segment id and the field separator {sep!r}",
            location=line[:3],
            code=SEGMENT_SEQUENCE,
        )


@lru_cache(maxsize=64)
def _bad_segment(sep: str) -> re.Pattern:
    """Finds the first segment after MSH that is not a segment id alone or followed by `sep` (one search
    over the message instead of a match per segment)."""
    return re.compile(rf"\r(?![A-Z][A-Z0-9]{{2}}(?:{re.escape(sep)}|\r|\Z))")

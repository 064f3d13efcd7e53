"""HL7 v2 acknowledgements: AA when the message was recorded (or already had been), AE when it was stored
but could not be recorded (it is in the dead letters), AR when it is not a message Yilian can read.
The error goes in MSA-3 and in an ERR segment (HL7 table 0357 code, location, text)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from yilian.ingest.errors import SEGMENT_SEQUENCE, UNSUPPORTED_TYPE, UNSUPPORTED_VERSION
from yilian.ingest.intake import header_fields

CST = timezone(timedelta(hours=8))
REJECT_CODES = (UNSUPPORTED_TYPE, UNSUPPORTED_VERSION, SEGMENT_SEQUENCE)
_counter = [0]


def escape(text: str) -> str:
    """Text for a field under the standard separators |^~\\&."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
    return out.replace("&", "\\T\\").replace("~", "\\R\\").replace("\r", " ").replace("\n", " ")


def ack_code(status: str, code: str | None, location: str | None = None) -> str:
    """AR for what cannot be read as a message at all (type, version, structure, the header); AE for a
    readable message whose content could not be recorded."""
    if status in ("processed", "duplicate"):
        return "AA"
    return "AR" if code in REJECT_CODES or (location or "").startswith("MSH") else "AE"


def build_ack(
    received: str, status: str, text: str, *, code: str | None = None, location: str | None = None
) -> str:
    """The ACK for a received message (its text as decoded, or '' when it could not be)."""
    kind, control_id, facility = header_fields(received)
    sep = received[3] if received.startswith("MSH") and len(received) > 3 else "|"
    fields = received.split("\r", 1)[0].split(sep) if received.startswith("MSH") else []
    app = fields[2] if len(fields) > 2 else ""
    version = fields[11] if len(fields) > 11 and fields[11] else "2.5.1"
    event = kind.split("^")[1] if "^" in kind else ""
    _counter[0] += 1
    now = datetime.now(CST)
    ack_id = f"YL{int(time.time() * 1000)}{_counter[0] % 1000:03d}"
    ack = ack_code(status, code, location)
    segments = [
        f"MSH|^~\\&|YILIAN|ALLIANCE|{escape(app)}|{escape(facility)}|{now:%Y%m%d%H%M%S%z}||ACK^{event}^ACK|"
        f"{ack_id}|P|{escape(version)}",
        f"MSA|{ack}|{escape(control_id)}|{escape(text[:400])}",
    ]
    if ack != "AA":
        segments.append(
            f"ERR||{_erl(location)}|{code or '207'}^{escape(_error_name(code))}^HL70357|E||||"
            f"{escape(text[:1000])}"
        )
    return "\r".join(segments) + "\r"


def _erl(location: str | None) -> str:
    """PID-7 -> PID^1^7 (segment, sequence, field), as ERR-2 wants it."""
    if not location:
        return ""
    seg, _, field = location.partition("-")
    return f"{seg}^1^{field}" if field.isdigit() else seg


def _error_name(code: str | None) -> str:
    return {
        "100": "Segment sequence error",
        "101": "Required field missing",
        "102": "Data type error",
        "103": "Table value not found",
        "200": "Unsupported message type",
        "201": "Unsupported event code",
        "203": "Unsupported version id",
        "204": "Unknown key identifier",
    }.get(code or "", "Application internal error")

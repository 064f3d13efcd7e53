"""HL7 v2 acknowledgements: AA when the message was recorded (or already had been), AE when it was stored
but could not be recorded (it is in the dead letters), AR when it is not a message Yilian can read.
The error goes in MSA-3 and in an ERR segment (HL7 table 0357 code, location, text).

A master file notification (MFN) is answered with its own acknowledgement, MFK (structure MFK_M01): the
same MSA and ERR, then the MFI echoed and an MFA per record (MFE) as MFI-6 asks: AL all, ER the failed,
SU the successful, NE none. A message is recorded whole or not at all, so every record shares its fate.

The received message is read with splits (its own separators), never parsed again."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from yilian.ingest.errors import SEGMENT_SEQUENCE, UNSUPPORTED_TYPE, UNSUPPORTED_VERSION
from yilian.ingest.hl7v2.message import unescape
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
    master_file = kind.split("^")[0].upper() == "MFN"
    _counter[0] += 1
    now = datetime.now(CST)
    ack_id = f"YL{int(time.time() * 1000)}{_counter[0] % 1000:03d}"
    ack = ack_code(status, code, location)
    answer = f"MFK^{escape(event)}^MFK_M01" if master_file else f"ACK^{escape(event)}^ACK"
    segments = [
        f"MSH|^~\\&|YILIAN|ALLIANCE|{escape(app)}|{escape(facility)}|{now:%Y%m%d%H%M%S%z}||{answer}|"
        f"{ack_id}|P|{escape(version)}",
        f"MSA|{ack}|{escape(control_id)}|{escape(text[:400])}",
    ]
    if ack != "AA":
        segments.append(
            f"ERR||{_erl(location)}|{code or '207'}^{escape(_error_name(code))}^HL70357|E||||"
            f"{escape(text[:1000])}"
        )
    if master_file:
        segments += master_file_ack(received, ack == "AA", f"{now:%Y%m%d%H%M%S%z}")
    return "\r".join(segments) + "\r"


def master_file_ack(received: str, posted: bool, now: str) -> list[str]:
    """MFI as received and an MFA per MFE (event, MFN control id, when, S or U, key, key type)."""
    segments = [_fields(line, received) for line in received.split("\r") if line[:3] in ("MFI", "MFE")]
    mfi = next((fields for fields in segments if fields[0][0] == "MFI"), None)
    if mfi is None:
        return []
    level = _at(mfi, 6).upper() or "AL"
    out = [_segment("MFI", _at(mfi, 1, 3), "", _at(mfi, 3), "", "", level)]
    if level == "NE" or (level == "ER" and posted) or (level == "SU" and not posted):
        return out
    result = "S^Successful posting^HL70181" if posted else "U^Unsuccessful posting^HL70181"
    for mfe in (fields for fields in segments if fields[0][0] == "MFE"):
        out.append(_segment("MFA", _at(mfe, 1), _at(mfe, 2), now, result, _at(mfe, 4), _at(mfe, 5) or "CWE"))
    return out


def _fields(line: str, received: str) -> list[list[str]]:
    """A segment of the received message: each field as its first repetition's components, unescaped."""
    sep = received[3]
    encoding = received[4:].split(sep, 1)[0]
    comp, rep, esc, sub = (encoding + "^~\\&"[len(encoding) :])[:4]
    seps = "\r" + sep + rep + comp + sub
    fields = [[line[:3]]]
    for field in line.split(sep)[1:]:
        fields.append([unescape(part, esc, seps) for part in field.split(rep)[0].split(comp)])
    return fields


def _at(fields: list[list[str]], n: int, components: int = 1) -> str:
    """Field n's first `components` components, escaped for the ACK's own separators."""
    parts = fields[n][:components] if n < len(fields) else []
    text = "^".join(escape(p) for p in parts)
    return text.rstrip("^")


def _segment(name: str, *fields: str) -> str:
    return "|".join([name, *fields]).rstrip("|")


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

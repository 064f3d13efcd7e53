"""Why a message was refused, said so that a member's IT staff can fix it.

An IngestError carries where the problem is (an HL7 v2 location such as PID-7, or a CSV column) and an
HL7 v2 error code (table 0357) for the NAK's ERR segment.
"""

from __future__ import annotations

# HL7 table 0357 (message error condition codes) that a NAK may carry.
SEGMENT_SEQUENCE = "100"
REQUIRED_MISSING = "101"
DATA_TYPE = "102"
TABLE_VALUE = "103"
UNSUPPORTED_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
APPLICATION_ERROR = "207"


class IngestError(Exception):
    def __init__(self, message: str, *, location: str | None = None, code: str = APPLICATION_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.code = code

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

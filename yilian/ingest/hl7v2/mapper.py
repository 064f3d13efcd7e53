"""One HL7 v2 message to the transaction Bundle that records it, by message type.

| message | what is written |
|---|---|
| ADT^A01-A13, A28, A31... | Patient and Encounter (updated), Condition (DG1), AllergyIntolerance (AL1), |
|  | Procedure (PR1), Observation (OBX) |
| ADT^A40-A42 | the surviving Patient; the prior one retired and linked (replaced-by) |
| ORU^R01, OUL^R2x | Patient and Encounter if new, DiagnosticReport per OBR, Observation per OBX |
| ORM^O01, OML^O21, OMG^O19 | ServiceRequest per ORC/OBR, MedicationRequest per RXO |
| RDE^O11/O25, RDS^O13 | MedicationRequest per RXE |
| MDM^T01-T11 | imaging DiagnosticReport + ImagingStudy, or DocumentReference |
| VXU^V04 | Immunization per RXA |
| MFN^M02 | Practitioner and PractitionerRole per MFE/STF (+PRA, ORG): the member's staff master file |

Anything else parses (it is stored) but is refused with "unsupported message type", so it waits in the
dead letters until Yilian learns it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from yilian.ingest.codes import CodeMap, Unmapped
from yilian.ingest.errors import UNSUPPORTED_EVENT, UNSUPPORTED_TYPE, IngestError
from yilian.ingest.hl7v2.adt import add_adt
from yilian.ingest.hl7v2.context import V2Context, cwe
from yilian.ingest.hl7v2.documents import add_document
from yilian.ingest.hl7v2.message import Message
from yilian.ingest.hl7v2.orders import add_medication_requests, add_service_requests
from yilian.ingest.hl7v2.patient import add_encounter, add_patient
from yilian.ingest.hl7v2.results import add_oru
from yilian.ingest.hl7v2.staff import add_staff


@dataclass
class Mapped:
    bundle: dict
    event_at: str | None
    unmapped: list[Unmapped] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)


def _clinical(ctx: V2Context, body: Callable[[V2Context], None]) -> None:
    add_patient(ctx, owns_demographics=False)
    add_encounter(ctx, owns_visit=False)
    body(ctx)


def _vaccinations(ctx: V2Context) -> None:
    for rxa in ctx.msg.all("RXA"):
        imm: dict = {
            "resourceType": "Immunization",
            "status": "completed" if rxa.get(20).upper() != "RE" else "not-done",
            "vaccineCode": cwe(ctx, rxa, 5, "vaccine"),
            "patient": ctx.patient,
        }
        if when := ctx.time(rxa, 3):
            imm["occurrenceDateTime"] = when
            ctx.event_at = ctx.event_at or when
        else:
            imm["occurrenceString"] = "unknown"
        imm["primarySource"] = rxa.get(9) in ("", "00")
        if rxa.get(15):
            imm["lotNumber"] = rxa.get(15)
        ctx.out.create(imm, ctx.key("vaccination", f"{ctx.msg.need('PID').get(3)}-{rxa.get(5)}-{rxa.get(3)}"))


HANDLERS: dict[str, Callable[[V2Context], None]] = {
    "ADT": add_adt,
    "ORU": lambda ctx: _clinical(ctx, add_oru),
    "OUL": lambda ctx: _clinical(ctx, add_oru),
    "ORM": lambda ctx: _clinical(ctx, add_service_requests),
    "OML": lambda ctx: _clinical(ctx, add_service_requests),
    "OMG": lambda ctx: _clinical(ctx, add_service_requests),
    "RDE": lambda ctx: _clinical(ctx, add_medication_requests),
    "RDS": lambda ctx: _clinical(ctx, add_medication_requests),
    "MDM": lambda ctx: _clinical(ctx, add_document),
    "VXU": lambda ctx: _clinical(ctx, _vaccinations),
    "MFN": add_staff,
}
ONLY_EVENTS = {"MFN": ("M02",)}  # types Yilian records for these events only (MFN: the staff master file)


def supported(msg: Message) -> bool:
    return msg.type in HANDLERS and msg.event in ONLY_EVENTS.get(msg.type, (msg.event,))


def map_message(msg: Message, member: str | None, codes: CodeMap) -> Mapped:
    """The Bundle for one parsed message; IngestError when it cannot be recorded as sent."""
    handler = HANDLERS.get(msg.type)
    if handler is None or not supported(msg):
        raise IngestError(
            f"Message type {msg.name} is not one Yilian records (ADT, ORU, OUL, ORM, OML, OMG, RDE, RDS, "
            "MDM, VXU, MFN^M02)",
            location="MSH-9",
            code=UNSUPPORTED_TYPE if handler is None else UNSUPPORTED_EVENT,
        )
    codes.take_unmapped()
    ctx = V2Context(msg, member, codes)
    handler(ctx)
    if not ctx.out.entries:
        raise IngestError(f"{msg.name} carried nothing to record", location="MSH-9")
    event_at = ctx.event_at or ctx.message_time()
    return Mapped(ctx.out.bundle(), event_at, codes.take_unmapped(), ctx.merges)

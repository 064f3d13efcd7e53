"""MDM^T01-T11 (TXA + OBX) to documents: an imaging report becomes a DiagnosticReport (category RAD)
with its ImagingStudy, anything else a DocumentReference.

A document is keyed on TXA-12 (unique document number), so an addendum or replacement (T05-T10)
updates it. A report is an imaging report when TXA-2 says so (DI, RAD) or its OBR names an imaging
section (OBR-24 RAD, CT, US, DX, MR...); the study is the OBX carrying a DICOM Study Instance UID, its
series and instances the OBX groups hl7v2.dicom reads.
"""

from __future__ import annotations

import base64

from yilian.ingest.errors import REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.context import V2Context, cwe
from yilian.ingest.hl7v2.dicom import DicomRefs, is_dicom, read_dicom
from yilian.ingest.hl7v2.message import Segment
from yilian.ingest.hl7v2.types import c

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
IMAGING_TYPES = ("DI", "RAD", "IR", "放射", "影像")
MODALITIES = {
    "CT": "Computed Tomography",
    "US": "Ultrasound",
    "DX": "Digital Radiography",
    "MR": "Magnetic Resonance",
    "CR": "Computed Radiography",
    "NM": "Nuclear Medicine",
    "XA": "X-Ray Angiography",
    "RX": "Radiography",
}
DOC_STATUS = {
    "AU": "final",
    "LA": "final",
    "DO": "preliminary",
    "IP": "preliminary",
    "PA": "preliminary",
    "IN": "preliminary",
    "DI": "preliminary",
    "AV": "final",
    "OB": "amended",
    "UC": "final",
}


def add_document(ctx: V2Context) -> None:
    txa = ctx.msg.first("TXA")
    if txa is None:
        raise IngestError(
            f"{ctx.msg.name} needs a TXA segment (document header)", location="TXA", code=REQUIRED_MISSING
        )
    obr = ctx.msg.first("OBR")
    number = txa.get(12) or txa.get(16) or ctx.msg.control_id
    when = ctx.time(obr, 7) if obr and obr.get(7) else ctx.time(txa, 4) or ctx.message_time()
    ctx.event_at = ctx.event_at or when
    text, dicom = _body(ctx)
    section = obr.get(24).upper() if obr else ""
    imaging = txa.get(2).upper() in IMAGING_TYPES or section in MODALITIES or section == "RAD"
    if imaging:
        dicom.modality = dicom.modality or section
        _imaging_report(ctx, txa, obr, number, when, text, dicom)
    else:
        _document_reference(ctx, txa, number, when, text)


def _body(ctx: V2Context) -> tuple[str, DicomRefs]:
    lines, dicom = [], []
    for obx in ctx.msg.all("OBX"):
        if is_dicom(obx):
            dicom.append(obx)
        elif obx.get(2).upper() in ("TX", "FT", "ST", ""):
            lines += [c(rep, 1) for rep in obx.reps(5)]
    return "\n".join(x for x in lines if x), read_dicom(ctx, dicom)


def _imaging_report(
    ctx: V2Context,
    txa: Segment,
    obr: Segment | None,
    number: str,
    when: str | None,
    text: str,
    dicom: DicomRefs,
) -> None:
    code = cwe(ctx, obr, 4, "exam") if obr and obr.get(4) else cwe(ctx, txa, 2, "document-type")
    interpreter = ctx.clinician_of(txa, 22) or ctx.clinician_of(txa, 9) or ctx.clinician_of(txa, 5)
    dr: dict = {
        "resourceType": "DiagnosticReport",
        "status": DOC_STATUS.get(txa.get(17).upper(), "final"),
        "category": [
            {
                "coding": [{"system": f"{TERMINOLOGY}/v2-0074", "code": "RAD", "display": "Radiology"}],
                "text": "影像",
            }
        ],
        "code": code,
    }
    _common(ctx, dr)
    if when:
        dr["effectiveDateTime"] = when
    issued = ctx.time(txa, 4)
    if issued and "T" in issued:
        dr["issued"] = issued
    if ctx.member:
        dr["performer"] = [ctx.org]
    if interpreter:
        dr["resultsInterpreter"] = [interpreter]
    if dicom.study_uid:
        dr["imagingStudy"] = [_study(ctx, obr, dicom, code, when, interpreter)]
    if text:
        dr["conclusion"] = text
    key = ctx.key("document", number)
    (ctx.out.upsert if ctx.msg.event not in ("T01", "T02") else ctx.out.create)(dr, key)


def _study(
    ctx: V2Context,
    obr: Segment | None,
    dicom: DicomRefs,
    code: dict,
    when: str | None,
    interpreter: dict | None,
) -> dict:
    study: dict = {
        "resourceType": "ImagingStudy",
        "status": "available",
    }
    series = dicom.elements()
    modalities = list(dict.fromkeys(s["modality"]["code"] for s in series)) or [dicom.modality]
    study["modality"] = [
        {"system": DCM, "code": m, "display": MODALITIES[m]} for m in modalities if m in MODALITIES
    ]
    if not study["modality"]:
        del study["modality"]
    _common(ctx, study)
    if when:
        study["started"] = when
    if obr is not None and (referrer := ctx.clinician_of(obr, 16)):
        study["referrer"] = referrer
    if interpreter:
        study["interpreter"] = [interpreter]
    if series:
        study["numberOfSeries"] = len(series)
        if all("numberOfInstances" in s for s in series):
            study["numberOfInstances"] = sum(s["numberOfInstances"] for s in series)
    if code.get("coding"):
        study["procedureCode"] = [code]
    if series:
        study["series"] = series
    key = {"system": "urn:dicom:uid", "value": f"urn:oid:{dicom.study_uid}"}
    return ctx.out.create(study, key)


def _document_reference(ctx: V2Context, txa: Segment, number: str, when: str | None, text: str) -> None:
    status = "entered-in-error" if ctx.msg.event == "T11" else "current"
    doc: dict = {
        "resourceType": "DocumentReference",
        "status": status,
        "docStatus": DOC_STATUS.get(txa.get(17).upper(), "final"),
        "type": cwe(ctx, txa, 2, "document-type"),
    }
    if ctx.patient:
        doc["subject"] = ctx.patient
    if when:
        doc["date"] = when if "T" in when else None
        if doc["date"] is None:
            del doc["date"]
    if author := ctx.clinician_of(txa, 5) or ctx.clinician_of(txa, 9):
        doc["author"] = [author]
    if ctx.member:
        doc["custodian"] = ctx.org
    data = base64.b64encode((text or "").encode("utf-8")).decode("ascii")
    doc["content"] = [
        {
            "attachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": data,
                "title": txa.get(2, 2) or txa.get(2) or "document",
            }
        }
    ]
    if ctx.encounter:
        doc["context"] = {"encounter": [ctx.encounter]}
    (ctx.out.upsert if ctx.msg.event not in ("T01", "T02") else ctx.out.create)(
        doc, ctx.key("document", number)
    )


def _common(ctx: V2Context, resource: dict) -> None:
    if ctx.patient:
        resource["subject"] = ctx.patient
    if ctx.encounter:
        resource["encounter"] = ctx.encounter

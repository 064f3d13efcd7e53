"""MFN^M02: a member's staff and practitioner master file, as Practitioner and PractitionerRole.

After MFI (which master file: STF staff or PRA practitioner), each record is an MFE (what happens to
it, and its key) with the staff member's STF, then optionally PRA (practitioner detail) and ORG (where in
the organisation they work). Both resources are conditional updates keyed on the member's staff number,
the key clinical messages use for the clinicians they name (XCN-1), so a clinician an ORU named before
the roster arrived is the same Practitioner, completed.

| v2 | FHIR |
|---|---|
| MFE-4 (else STF-1) | the key: `identifier` (the member's staff system) of both resources |
| STF-2, STF-3, STF-5, STF-6 | Practitioner `identifier` (more), `name`, `gender`, `birthDate` |
| STF-10, STF-15, STF-11 | Practitioner `telecom` (phones, e-mail), `address` |
| STF-18 job title (职称) | Practitioner `qualification.code.text`, PractitionerRole `code.text` |
| PRA-6 practitioner ID numbers (licences) | Practitioner `qualification` (identifier, v2-0338 type, expiry) |
| PRA-3 practitioner category, else STF-4 staff type | PractitionerRole `code` (code table `staff-type`) |
| ORG-8 specialisation, else ORG-2 / STF-8 department, PRA-5 | PractitionerRole `specialty` |
| ORG-9 (the primary ORG), else STF-12 / STF-13 | PractitionerRole `period` |
| STF-7 and MFE-1 | `active` of both |

Record-level events (MFE-1, HL7 table 0180): MAD add and MUP update write the record as sent; MDC
deactivates (`active` false, the role's period ends at MFE-3, else when the message was sent); MAC
reactivates. MDL (delete) is recorded as a deactivation: the clinician signed records of care that must
still name who they were, and the alliance keeps history, so nothing is deleted. A file-level REP
(MFI-3) is applied record by record: staff it does not list are not deactivated (send MDC for them).
Several records of one staff member in one message: the last one counts, as the file would apply them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.ingest.errors import REQUIRED_MISSING, SEGMENT_SEQUENCE, TABLE_VALUE, IngestError
from yilian.ingest.hl7v2.context import V2Context, cwe, first_rep, role_system, staff_system
from yilian.ingest.hl7v2.message import Rep, Segment
from yilian.ingest.hl7v2.patient import GENDER
from yilian.ingest.hl7v2.types import c, cx, date_only, member_system, ts, xad, xpn, xtn

MASTER_FILES = ("STF", "PRA")  # HL7 table 0175: the staff and the practitioner master files
ACTIVE_AFTER = {"MDC": False, "MDL": False, "MAC": True}  # MAD, MUP: as STF-7 says
EVENTS = ("MAD", "MUP", "MDC", "MAC", "MDL")
V2_0338 = "http://terminology.hl7.org/CodeSystem/v2-0338"  # practitioner ID number type


@dataclass
class StaffRecord:
    """One MFE and the segments that follow it."""

    number: int  # 1 for the first MFE of the message
    mfe: Segment
    stf: Segment | None = None
    pra: list[Segment] = field(default_factory=list)
    orgs: list[Segment] = field(default_factory=list)


def add_staff(ctx: V2Context) -> None:
    """MFN^M02 (the mapper refuses the other master files)."""
    mfi = ctx.msg.need("MFI")
    if mfi.get(1).upper() not in MASTER_FILES:
        raise IngestError(
            f"MFI-1 {mfi.get(1)!r} is not the staff (STF) or practitioner (PRA) master file",
            location="MFI-1",
            code=TABLE_VALUE if mfi.get(1) else REQUIRED_MISSING,
        )
    latest: dict[str, tuple[dict, dict]] = {}
    for record in staff_records(ctx):
        key = record_key(record)
        latest[key] = (practitioner_of(ctx, record, key), role_of(ctx, record))
    for key, (practitioner, role) in latest.items():
        ref = ctx.out.upsert(practitioner, {"system": staff_system(ctx.member), "value": key})
        name = practitioner.get("name", [{}])[0].get("text")
        role["practitioner"] = {**ref, "display": name} if name else ref
        ctx.out.upsert(_ordered(role), {"system": role_system(ctx.member), "value": key})


def staff_records(ctx: V2Context) -> list[StaffRecord]:
    """The MFE groups, in order; a staff segment outside one is out of sequence."""
    out: list[StaffRecord] = []
    for seg in ctx.msg.segments:
        if seg.id == "MFE":
            out.append(StaffRecord(len(out) + 1, seg))
        elif seg.id in ("STF", "PRA", "ORG"):
            if not out or (seg.id == "STF" and out[-1].stf is not None):
                raise IngestError(
                    f"{seg.id} is not inside a record: each record is MFE, STF, then PRA and ORG",
                    location=seg.id,
                    code=SEGMENT_SEQUENCE,
                )
            record = out[-1]
            if seg.id == "STF":
                record.stf = seg
            else:
                (record.pra if seg.id == "PRA" else record.orgs).append(seg)
    if not out:
        raise IngestError("MFN^M02 has no record (MFE segment)", location="MFE", code=REQUIRED_MISSING)
    return out


def record_key(record: StaffRecord) -> str:
    """The staff number: MFE-4 (the record's primary key), which STF-1 repeats when it is sent."""
    key = c(first_rep(record.mfe, 4), 1)
    own = c(first_rep(record.stf, 1), 1) if record.stf is not None else ""
    if key and own and own != key:
        raise IngestError(
            f"STF-1 ({own}) is not the key of its record, MFE-4 ({key})", location="STF-1", code=TABLE_VALUE
        )
    if not (key or own):
        raise IngestError(
            f"MFE-4 (primary key value) of record {record.number} is empty, and so is STF-1: "
            "the staff member cannot be identified",
            location="MFE-4",
            code=REQUIRED_MISSING,
        )
    return key or own


def _event(record: StaffRecord) -> str:
    event = record.mfe.get(1).upper()
    if event not in EVENTS:
        raise IngestError(
            f"MFE-1 {record.mfe.get(1)!r} of record {record.number} is not a record-level event "
            f"({', '.join(EVENTS)})",
            location="MFE-1",
            code=TABLE_VALUE if event else REQUIRED_MISSING,
        )
    return event


def _stf(record: StaffRecord) -> Segment:
    if record.stf is None:
        raise IngestError(
            f"Record {record.number} (MFE-4 {record.mfe.get(4)!r}) has no STF segment",
            location="STF",
            code=REQUIRED_MISSING,
        )
    return record.stf


def is_active(record: StaffRecord) -> bool:
    """MDC and MDL deactivate, MAC reactivates; an add or update is as STF-7 (A / I) says."""
    event = _event(record)
    flag = _stf(record).get(7).upper()
    if flag not in ("", "A", "I"):
        raise IngestError(
            f"STF-7 {flag!r} is not an active/inactive flag (A or I)", location="STF-7", code=TABLE_VALUE
        )
    return ACTIVE_AFTER.get(event, flag != "I")


# --- Practitioner ------------------------------------------------------------------------------------


def practitioner_of(ctx: V2Context, record: StaffRecord, key: str) -> dict:
    stf = _stf(record)
    practitioner: dict = {"resourceType": "Practitioner"}
    more = [i for rep in stf.reps(2) if (i := cx(rep, ctx.member)) and i["value"] != key]
    if more:
        practitioner["identifier"] = more
    practitioner["active"] = is_active(record)
    if names := [n for rep in stf.reps(3) if (n := xpn(rep))]:
        practitioner["name"] = names
    telecom = [t for rep in stf.reps(10) if (t := xtn(rep, "work"))]
    telecom += [{"system": "email", "value": e} for rep in stf.reps(15) if (e := c(rep, 1))]
    if telecom:
        practitioner["telecom"] = telecom
    if addresses := [a for rep in stf.reps(11) if (a := xad(rep))]:
        practitioner["address"] = addresses
    if sex := stf.get(5).upper():
        practitioner["gender"] = GENDER.get(sex, "unknown")
    if birth := date_only(stf.get(6), "STF-6"):
        practitioner["birthDate"] = birth
    if qualifications := _qualifications(ctx, record):
        practitioner["qualification"] = qualifications
    return practitioner


def _qualifications(ctx: V2Context, record: StaffRecord) -> list[dict]:
    """The job title (职称) as text, then each licence PRA-6 lists (PLN: number, type, -, expiry)."""
    out: list[dict] = []
    if title := _stf(record).get(18):
        out.append({"code": {"text": title}})
    for pra in record.pra:
        for rep in pra.reps(6):
            if not c(rep, 1):
                continue
            kind = c(rep, 2)
            system = member_system(ctx.member, f"licence/{kind or 'id'}")
            licence: dict = {
                "identifier": [{"system": system, "value": c(rep, 1)}],
                "code": {"coding": [{"system": V2_0338, "code": kind}], "text": kind}
                if kind
                else {"text": "practitioner ID"},
            }
            if expiry := date_only(c(rep, 4), "PRA-6"):
                licence["period"] = {"end": expiry}
            out.append(licence)
    return out


# --- PractitionerRole --------------------------------------------------------------------------------


def role_of(ctx: V2Context, record: StaffRecord) -> dict:
    """The staff member's role at the member (one per member: each ORG adds a specialty)."""
    active = is_active(record)
    role: dict = {"resourceType": "PractitionerRole", "active": active}
    if ctx.member:
        role["organization"] = ctx.org
    if codes := _role_codes(ctx, record):
        role["code"] = codes
    if specialties := _specialties(ctx, record):
        role["specialty"] = specialties
    if period := _period(ctx, record, active):
        role["period"] = period
    return role


def _role_codes(ctx: V2Context, record: StaffRecord) -> list[dict]:
    """PRA-3 (practitioner category), else STF-4 (staff type): the member's codes, through its table;
    the job title is the text of the first."""
    stf = _stf(record)
    reps = [rep for pra in record.pra for rep in pra.reps(3)] or stf.reps(4)
    codes = [ctx.codes.concept("staff-type", c(rep, 1)) for rep in reps if c(rep, 1)]
    if title := stf.get(18):
        codes = codes or [{}]
        codes[0]["text"] = title
    return codes


def _specialties(ctx: V2Context, record: StaffRecord) -> list[dict]:
    out = []
    for org in record.orgs:
        if org.get(8):
            specialty = cwe(ctx, org, 8, "specialty")
            if not specialty.get("text") and c(first_rep(org, 2), 2):
                specialty["text"] = c(first_rep(org, 2), 2)
            out.append(specialty)
        elif org.get(2):
            out.append(_department(ctx, first_rep(org, 2)))
    out += [{"text": c(rep, 1)} for pra in record.pra for rep in pra.reps(5) if c(rep, 1)]
    if not out:
        out = [_department(ctx, rep) for rep in _stf(record).reps(8) if c(rep, 1) or c(rep, 2)]
    return out


def _department(ctx: V2Context, rep: Rep) -> dict:
    """A department (科室) through the member's `department` table; its own code is not a data-quality
    gap when the table lacks it (a department is the member's own, with no alliance standard)."""
    return ctx.codes.concept("department", c(rep, 1), c(rep, 2), c(rep, 3), record=False)


def _period(ctx: V2Context, record: StaffRecord, active: bool) -> dict:
    orgs = record.orgs
    primary = next((o for o in orgs if o.get(4).upper() == "Y"), orgs[0] if orgs else None)
    if primary is not None and primary.get(9):
        dr = first_rep(primary, 9)
        start, end = ts(c(dr, 1), "ORG-9"), ts(c(dr, 2), "ORG-9")
    else:
        stf = _stf(record)
        start = ts(c(first_rep(stf, 12), 1), "STF-12")
        end = ts(c(first_rep(stf, 13), 1), "STF-13")
    if not active and not end:
        end = ctx.time(record.mfe, 3) or ctx.message_time()
    return {k: v for k, v in (("start", start), ("end", end)) if v}


def _ordered(role: dict) -> dict:
    """practitioner before organization, as FHIR lists them (the resource reads in the usual order)."""
    order = ("resourceType", "active", "period", "practitioner", "organization", "code", "specialty")
    return {k: role[k] for k in order if k in role}

"""ADT: registrations and visits (A01-A13, A28, A31...), their diagnoses (DG1), allergies (AL1),
procedures (PR1) and measurements (OBX), and merges (A40).

ADT owns the member's Patient (demographics are updated) and its visits (a discharge closes one); the
rest is keyed so that the same ADT sent again changes nothing.
"""

from __future__ import annotations

from yilian.ingest.errors import REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.context import V2Context, cwe
from yilian.ingest.hl7v2.patient import add_encounter, add_patient
from yilian.ingest.hl7v2.results import add_measurements
from yilian.ingest.hl7v2.types import cx

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
PERSON_ONLY = ("A28", "A29", "A31", "A47")  # person information: no visit
STATUS_BY_EVENT = {
    "A03": "finished",
    "A11": "cancelled",
    "A13": "in-progress",
    "A05": "planned",
    "A14": "planned",
    "A27": "cancelled",
    "A38": "cancelled",
}
VERIFICATION = {"F": "confirmed", "W": "provisional", "A": "provisional"}
ALLERGY_CATEGORY = {
    "DA": "medication",
    "MA": "medication",
    "FA": "food",
    "EA": "environment",
    "AA": "environment",
    "PA": "environment",
    "LA": "environment",
}
SEVERITY = {"SV": "high", "MO": "low", "MI": "low"}


def add_adt(ctx: V2Context) -> None:
    event = ctx.msg.event
    evn = ctx.msg.first("EVN")
    ctx.event_at = (ctx.time(evn, 6) or ctx.time(evn, 2)) if evn else None
    add_patient(ctx, owns_demographics=True)  # A40: the survivor, as the merge leaves it
    if event == "A40":
        _merge(ctx)
        return
    if event not in PERSON_ONLY:
        add_encounter(ctx, owns_visit=True, status=STATUS_BY_EVENT.get(event))
        pv1 = ctx.msg.first("PV1")
        visit_start = ctx.time(pv1, 44) if pv1 else None
        ctx.event_at = ctx.event_at or (ctx.time(pv1, 45) if pv1 else None) or visit_start
    ctx.event_at = ctx.event_at or ctx.message_time()
    add_diagnoses(ctx)
    add_allergies(ctx)
    add_procedures(ctx)
    add_measurements(ctx)


def _merge(ctx: V2Context) -> None:
    """A40: the prior record (MRG-1) is retired and linked to the surviving one; the pipeline reads the
    prior Patient through the router to keep its content (see pipeline._resolve_merges)."""
    mrg = ctx.msg.first("MRG")
    if mrg is None:
        raise IngestError(
            "ADT^A40 needs an MRG segment naming the prior patient", location="MRG", code=REQUIRED_MISSING
        )
    prior = [i for rep in mrg.reps(1) if (i := cx(rep, ctx.member))]
    if not prior:
        raise IngestError(
            "MRG-1 (prior patient identifier) is empty", location="MRG-1", code=REQUIRED_MISSING
        )
    ctx.event_at = ctx.message_time()
    ctx.merges.append({"prior": prior[0], "survivor": ctx.patient})


def add_diagnoses(ctx: V2Context) -> None:
    for dg1 in ctx.msg.all("DG1"):
        code = cwe(ctx, dg1, 3, "diagnosis")
        if not code:
            raise IngestError("DG1-3 (diagnosis code) is empty", location="DG1-3", code=REQUIRED_MISSING)
        cond: dict = {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": f"{TERMINOLOGY}/condition-clinical", "code": "active"}]},
            "verificationStatus": {
                "coding": [
                    {
                        "system": f"{TERMINOLOGY}/condition-ver-status",
                        "code": VERIFICATION.get(dg1.get(6).upper(), "confirmed"),
                    }
                ]
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": f"{TERMINOLOGY}/condition-category",
                            "code": "encounter-diagnosis",
                            "display": "Encounter Diagnosis",
                        }
                    ]
                }
            ],
            "code": code,
            "subject": ctx.patient,
        }
        if ctx.encounter:
            cond["encounter"] = ctx.encounter
        if recorded := ctx.time(dg1, 5):
            cond["recordedDate"] = recorded
        if recorder := ctx.clinician_of(dg1, 16):
            cond["recorder"] = recorder
        visit = ctx.msg.first("PV1").get(19) if ctx.msg.first("PV1") else ""
        number = dg1.get(20) or f"{visit or ctx.msg.control_id}-{dg1.get(3) or dg1.get(1)}"
        ctx.out.create(cond, ctx.key("diagnosis", number))


def add_allergies(ctx: V2Context) -> None:
    mrn = ctx.msg.need("PID").get(3)
    for al1 in ctx.msg.all("AL1"):
        code = cwe(ctx, al1, 3, "allergen")
        allergy: dict = {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {
                "coding": [{"system": f"{TERMINOLOGY}/allergyintolerance-clinical", "code": "active"}]
            },
            "verificationStatus": {
                "coding": [{"system": f"{TERMINOLOGY}/allergyintolerance-verification", "code": "confirmed"}]
            },
            "type": "allergy",
        }
        if cat := ALLERGY_CATEGORY.get(al1.get(2).upper()):
            allergy["category"] = [cat]
        if crit := SEVERITY.get(al1.get(4).upper()):
            allergy["criticality"] = crit
        if code:
            allergy["code"] = code
        allergy["patient"] = ctx.patient
        if ctx.encounter:
            allergy["encounter"] = ctx.encounter
        if recorded := ctx.time(al1, 6):
            allergy["recordedDate"] = recorded
        if reactions := [r for rep in al1.reps(5) if (r := rep[0][0] if rep and rep[0] else "")]:
            allergy["reaction"] = [{"manifestation": [{"text": r}]} for r in reactions]
        ctx.out.create(allergy, ctx.key("allergy", f"{mrn}-{al1.get(3) or al1.get(1)}"))


def add_procedures(ctx: V2Context) -> None:
    for pr1 in ctx.msg.all("PR1"):
        proc: dict = {"resourceType": "Procedure", "status": "completed", "subject": ctx.patient}
        if code := cwe(ctx, pr1, 3, "procedure"):
            proc["code"] = code
        if ctx.encounter:
            proc["encounter"] = ctx.encounter
        if when := ctx.time(pr1, 5):
            proc["performedDateTime"] = when
        performers = [p for n in (12, 11) if (p := ctx.clinician_of(pr1, n))]
        if performers:
            proc["performer"] = [{"actor": performers[0]}]
        visit = ctx.msg.first("PV1").get(19) if ctx.msg.first("PV1") else ""
        number = pr1.get(19) or f"{visit or ctx.msg.control_id}-{pr1.get(3)}-{pr1.get(5)}"
        ctx.out.create(proc, ctx.key("procedure", number))

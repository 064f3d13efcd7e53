"""The staff export (人员信息) of a member: each row a clinician's Practitioner and their role at the member,
both keyed on the staff number the clinical rows name them by (`doctor_id` and the like), so a clinician a
visit row named before the roster arrived is the same Practitioner, completed."""

from __future__ import annotations

from yilian.ingest.csv.row import Row
from yilian.ingest.hl7v2.context import role_system, staff_system

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"


PRACTITIONER_ROLE = f"{TERMINOLOGY}/practitioner-role"
ROLES = {  # FHIR's practitioner-role codes, and what staff systems write
    "doctor": "doctor",
    "nurse": "nurse",
    "pharmacist": "pharmacist",
    "researcher": "researcher",
    "teacher": "teacher",
    "ict": "ict",
    "医生": "doctor",
    "医师": "doctor",
    "护士": "nurse",
    "护师": "nurse",
    "药师": "pharmacist",
}
ROLE_DISPLAY = {
    "doctor": "Doctor",
    "nurse": "Nurse",
    "pharmacist": "Pharmacist",
    "researcher": "Researcher",
    "teacher": "Teacher/educator",
    "ict": "ICT professional",
}
ACTIVE = {
    "active": "active",
    "inactive": "inactive",
    "1": "active",
    "0": "inactive",
    "y": "active",
    "n": "inactive",
    "true": "active",
    "false": "inactive",
    "在职": "active",
    "在岗": "active",
    "离职": "inactive",
    "停用": "inactive",
}


def staff(row: Row) -> None:
    """One row of the staff export: the clinician's Practitioner and their PractitionerRole."""
    number = row.need("staff_no")
    active = row.translate("active", ACTIVE) == "active" if row.get("active") else True
    practitioner: dict = {"resourceType": "Practitioner", "active": active}
    row.person(practitioner, phones=(("phone", "mobile"),))
    name = practitioner.get("name", [None])[0]
    if title := row.get("title"):
        practitioner["qualification"] = [{"code": {"text": title}}]
    ref = row.out.upsert(practitioner, {"system": staff_system(row.member), "value": number})
    role: dict = {"resourceType": "PractitionerRole", "active": active}
    if period := {k: v for k, v in (("start", row.date("start")), ("end", row.date("end"))) if v}:
        role["period"] = period
    role["practitioner"] = {**ref, "display": name["text"]} if name else ref
    role["organization"] = row.org
    if code := _role_code(row):
        role["code"] = [code]
    if row.get("department_code") or row.get("department"):
        # the member's own department: no alliance standard, so an unmapped one is no quality gap
        concept = row.codes.concept(
            "department", row.get("department_code"), row.get("department"), record=False
        )
        role["specialty"] = [concept]
    row.out.upsert(role, {"system": role_system(row.member), "value": number})


def _role_code(row: Row) -> dict | None:
    """The role (医生, 护士... or FHIR's code) as FHIR's practitioner-role code; the title is its text."""
    out: dict = {}
    if row.get("role"):
        code = row.translate("role", ROLES)
        out["coding"] = [{"system": PRACTITIONER_ROLE, "code": code, "display": ROLE_DISPLAY[code]}]
    if row.get("title"):
        out["text"] = row.get("title")
    return out or None

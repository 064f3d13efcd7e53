"""The kinds of CSV export Yilian reads, their fields, and each row as FHIR.

Rows refer to the patient by the member's record number (`mrn`) and to a visit by its number, as
conditional references: a row about a patient the member has not sent yet is refused (and waits in the
dead letters until it is replayed after the patient arrives). Everything is a conditional update keyed
on the member's numbers, so a corrected row sent again corrects the record. A staff row (the member's
roster) is about a clinician, keyed on the staff number the clinical rows name them by.
"""

from __future__ import annotations

from collections.abc import Callable

from yilian.alliance.codes import RESIDENT_ID
from yilian.ingest.codes import UCUM
from yilian.ingest.csv.row import Row
from yilian.ingest.csv.staff import TERMINOLOGY, staff
from yilian.ingest.hl7v2.results import INTERPRETATION, category, combine_blood_pressure
from yilian.ingest.hl7v2.results import reference_range as parse_range

SCT = "http://snomed.info/sct"

FIELDS: dict[str, tuple[str, ...]] = {
    "patients": (
        "mrn",
        "name",
        "family",
        "given",
        "gender",
        "birth_date",
        "resident_id",
        "phone",
        "home_phone",
        "address",
        "province",
        "city",
        "district",
        "postcode",
    ),
    "visits": (
        "visit_no",
        "mrn",
        "start",
        "end",
        "class",
        "type_code",
        "type_name",
        "doctor_id",
        "doctor_name",
        "department",
        "reason_code",
        "reason_name",
    ),
    "diagnoses": (
        "diagnosis_no",
        "mrn",
        "visit_no",
        "code",
        "name",
        "code_system",
        "recorded_at",
        "onset",
        "resolved",
        "doctor_id",
        "doctor_name",
        "category",
    ),
    "results": (
        "report_no",
        "mrn",
        "visit_no",
        "item_code",
        "item_name",
        "value",
        "unit",
        "range",
        "flag",
        "observed_at",
        "reported_at",
        "panel_code",
        "panel_name",
        "category",
        "performer_id",
        "performer_name",
        "reporter_id",
        "reporter_name",
    ),
    "prescriptions": (
        "rx_no",
        "mrn",
        "visit_no",
        "drug_code",
        "drug_name",
        "dose",
        "dose_unit",
        "frequency",
        "route",
        "days",
        "instructions",
        "prescribed_at",
        "doctor_id",
        "doctor_name",
        "status",
        "type",
        "since",
    ),
    "contracts": (
        "contract_no",
        "mrn",
        "programme",
        "title",
        "start",
        "end",
        "status",
        "doctor_id",
        "doctor_name",
        "signed_at",
        "description",
    ),
    "vaccinations": (
        "vaccination_no",
        "mrn",
        "vaccine_code",
        "vaccine_name",
        "date",
        "lot",
        "dose",
        "site",
        "route",
        "nurse_id",
        "nurse_name",
    ),
    "procedures": ("procedure_no", "mrn", "visit_no", "code", "name", "date", "doctor_id", "doctor_name"),
    "allergies": (
        "allergy_no",
        "mrn",
        "visit_no",
        "allergen_code",
        "allergen_name",
        "category",
        "criticality",
        "reaction_code",
        "reaction_name",
        "severity",
        "status",
        "recorded_at",
        "doctor_id",
        "doctor_name",
    ),
    "staff": (
        "staff_no",
        "name",
        "family",
        "given",
        "gender",
        "birth_date",
        "phone",
        "email",
        "title",
        "role",
        "department_code",
        "department",
        "start",
        "end",
        "active",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "patients": ("mrn",),
    "visits": ("visit_no", "mrn", "start"),
    "diagnoses": ("mrn", "code"),
    "results": ("mrn", "item_code", "value", "observed_at"),
    "prescriptions": ("mrn", "drug_code", "prescribed_at"),
    "contracts": ("contract_no", "mrn", "start"),
    "vaccinations": ("mrn", "vaccine_code", "date"),
    "procedures": ("mrn", "code", "date"),
    "allergies": ("mrn", "allergen_code"),
    "staff": ("staff_no",),
}
# Contract status codes as Shanghai's family-doctor systems write them (DOMAIN.md §6).
CONTRACT_STATUS = {
    "0": "draft",
    "1": "active",
    "3": "revoked",
    "5": "completed",
    "6": "active",
    "9": "revoked",
    "active": "active",
    "completed": "completed",
    "revoked": "revoked",
}
MED_STATUS = {
    "active": "active",
    "completed": "completed",
    "stopped": "stopped",
    "1": "active",
    "0": "completed",
}


def patient(row: Row) -> None:
    p: dict = {"resourceType": "Patient", "identifier": [row.mrn_identifier()], "active": True}
    if row.get("resident_id"):
        p["identifier"].append(
            {
                "use": "official",
                "type": {
                    "coding": [{"system": f"{TERMINOLOGY}/v2-0203", "code": "NI"}],
                    "text": "居民身份证",
                },
                "system": RESIDENT_ID,
                "value": row.get("resident_id").upper(),
            }
        )
    row.person(p, phones=(("phone", "mobile"), ("home_phone", "home")))
    if address := row.address():
        p["address"] = [address]
    p["managingOrganization"] = row.org
    row.out.upsert(p, row.mrn_identifier())


def visit(row: Row) -> None:
    cls = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency", "HH": "home health"}
    code = (row.get("class") or "AMB").upper()
    enc: dict = {
        "resourceType": "Encounter",
        "status": "finished" if row.get("end") else "in-progress",
        "class": {"system": f"{TERMINOLOGY}/v3-ActCode", "code": code, "display": cls.get(code, code)},
    }
    if row.get("type_code") or row.get("type_name"):
        enc["type"] = [row.concept("visit-type", "type_code", "type_name")]
    enc["subject"] = row.patient
    if who := row.clinician("doctor_id", "doctor_name"):
        enc["participant"] = [
            {
                "type": [{"coding": [{"system": f"{TERMINOLOGY}/v3-ParticipationType", "code": "ATND"}]}],
                "individual": who,
            }
        ]
    enc["period"] = {k: v for k, v in (("start", row.time("start")), ("end", row.time("end"))) if v}
    if row.get("reason_code"):
        enc["reasonCode"] = [row.concept("diagnosis", "reason_code", "reason_name")]
    enc["serviceProvider"] = row.org
    row.event(enc["period"].get("start"))
    row.out.upsert(enc, row.key("visit", row.need("visit_no")))


def diagnosis(row: Row) -> None:
    problem = (row.get("category") or ("encounter" if row.get("visit_no") else "problem")).startswith(
        "problem"
    )
    cat = (
        ("problem-list-item", "Problem List Item")
        if problem
        else ("encounter-diagnosis", "Encounter Diagnosis")
    )
    status = "resolved" if row.get("resolved") else "active"
    cond: dict = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": f"{TERMINOLOGY}/condition-clinical", "code": status}]},
        "verificationStatus": {
            "coding": [{"system": f"{TERMINOLOGY}/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {"coding": [{"system": f"{TERMINOLOGY}/condition-category", "code": cat[0], "display": cat[1]}]}
        ],
        "code": row.concept("diagnosis", "code", "name", row.get("code_system")),
        "subject": row.patient,
    }
    if enc := row.visit():
        cond["encounter"] = enc
    for fhir_name, name in (
        ("onsetDateTime", "onset"),
        ("abatementDateTime", "resolved"),
        ("recordedDate", "recorded_at"),
    ):
        if value := row.time(name):
            cond[fhir_name] = value
    if who := row.clinician("doctor_id", "doctor_name"):
        cond["recorder"] = who
    row.event(cond.get("recordedDate") or cond.get("onsetDateTime"))
    number = (
        row.get("diagnosis_no") or f"{row.need('mrn')}-{row.get('code')}-{row.get('visit_no') or 'problem'}"
    )
    row.out.upsert(cond, row.key("diagnosis", number))


def results(rows: list[Row]) -> None:
    """Rows of one report: an Observation each and, when they carry a report number, the report."""
    first = rows[0]
    observations = []
    for i, row in enumerate(rows, start=1):
        obs = _observation(row)
        seq = i if row.get("report_no") else row.get("observed_at")
        number = f"{row.get('report_no') or row.need('mrn')}-{row.get('item_code')}-{seq}"
        observations.append((obs, row.key("result", number)))
    panel = bool(first.get("report_no") and (first.get("panel_code") or first.get("panel_name")))
    if not panel:  # a set of measurements: systolic and diastolic become one blood-pressure panel
        observations = combine_blood_pressure(observations)
    refs = [first.out.upsert(o, k) for o, k in observations]
    if panel:
        dr: dict = {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [{"coding": [{"system": f"{TERMINOLOGY}/v2-0074", "code": "LAB"}], "text": "检验"}],
            "code": first.concept("lab", "panel_code", "panel_name"),
            "subject": first.patient,
        }
        if enc := first.visit():
            dr["encounter"] = enc
        dr["effectiveDateTime"] = first.time("observed_at")
        if (issued := first.time("reported_at")) and "T" in issued:
            dr["issued"] = issued
        dr["performer"] = [first.org]
        if who := first.clinician("reporter_id", "reporter_name"):
            dr["resultsInterpreter"] = [who]
        dr["result"] = refs
        first.out.upsert(dr, first.key("report", first.get("report_no")))


def _observation(row: Row) -> dict:
    code = row.concept("lab", "item_code", "item_name")
    vital = row.get("category").lower() in ("vital", "vital-signs", "体征") if row.get("category") else False
    cat = ("vital-signs", "Vital Signs") if vital else ("laboratory", "Laboratory")
    obs: dict = {
        "resourceType": "Observation",
        "status": "final",
        "category": category(*cat),
        "code": code,
        "subject": row.patient,
    }
    if enc := row.visit():
        obs["encounter"] = enc
    obs["effectiveDateTime"] = row.time("observed_at")
    row.event(obs["effectiveDateTime"])
    if who := row.clinician("performer_id", "performer_name"):
        obs["performer"] = [who]
    else:
        obs["performer"] = [row.org]
    raw = row.need("value")
    try:
        amount = float(raw)
    except ValueError:
        obs["valueString"] = raw
    else:
        quantity: dict = {"value": int(amount) if amount.is_integer() and "." not in raw else amount}
        if unit := row.get("unit"):
            quantity.update(unit=unit, system=UCUM, code=unit)
        obs["valueQuantity"] = quantity
    if flag := row.get("flag").upper():
        obs["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
    if ranges := parse_range(row.get("range"), obs.get("valueQuantity")):
        obs["referenceRange"] = ranges
    return obs


ROUTES = {
    "口服": ("26643006", "Oral route"),
    "皮下注射": ("34206005", "Subcutaneous route"),
    "吸入": ("447694001", "Respiratory tract route"),
    "肌内注射": ("78421000", "Intramuscular route"),
}
PER_DAY = {
    "QD": 1,
    "BID": 2,
    "TID": 3,
    "QID": 4,
    "QN": 1,
    "每日1次": 1,
    "每日2次": 2,
    "每日3次": 3,
    "每晚1次": 1,
}


def prescription(row: Row) -> None:
    statement = row.get("type").lower() in ("long-term", "statement", "长期用药", "用药情况")
    rtype = "MedicationStatement" if statement else "MedicationRequest"
    med: dict = {
        "resourceType": rtype,
        "status": row.translate("status", MED_STATUS) if row.get("status") else "active",
    }
    if not statement:
        med["intent"] = "order"
    med["medicationCodeableConcept"] = row.concept("drug", "drug_code", "drug_name")
    med["subject"] = row.patient
    if enc := row.visit():
        med["encounter" if not statement else "context"] = enc
    when = row.time("prescribed_at")
    row.event(when)
    if statement:
        med["effectivePeriod"] = {"start": row.time("since") or when}
        med["dateAsserted"] = when
        if who := row.clinician("doctor_id", "doctor_name"):
            med["informationSource"] = who
    else:
        med["authoredOn"] = when
        if who := row.clinician("doctor_id", "doctor_name"):
            med["requester"] = who
    med["dosage" if statement else "dosageInstruction"] = [_dosage(row)]
    if not statement and row.get("days"):
        med["dispenseRequest"] = {
            "expectedSupplyDuration": {"value": row.number("days"), "unit": "天", "system": UCUM, "code": "d"}
        }
    number = row.get("rx_no") or f"{row.need('mrn')}-{row.get('drug_code')}-{row.get('prescribed_at')}"
    row.out.upsert(med, row.key("medication-statement" if statement else "prescription", number))


def _dosage(row: Row) -> dict:
    dosage: dict = {}
    if text := row.get("instructions"):
        dosage["text"] = text
    if (per_day := PER_DAY.get(row.get("frequency").upper() or row.get("frequency"))) is not None:
        dosage["timing"] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    if route := row.get("route"):
        sct = ROUTES.get(route)
        dosage["route"] = (
            {"coding": [{"system": SCT, "code": sct[0], "display": sct[1]}], "text": route}
            if sct
            else {"text": route}
        )
    if row.get("dose"):
        dose: dict = {"value": row.number("dose")}
        if unit := row.get("dose_unit"):
            dose.update(unit=unit, system=UCUM, code=unit)
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    return dosage


def contract(row: Row) -> None:
    """A family-doctor contract (签约服务) as a CarePlan of the member's team."""
    status = row.translate("status", CONTRACT_STATUS) if row.get("status") else "active"
    title = row.get("title") or "家庭医生签约服务"
    plan: dict = {
        "resourceType": "CarePlan",
        "status": status,
        "intent": "plan",
        "category": [
            {
                "coding": [{"system": SCT, "code": "734163000", "display": "Care plan"}],
                "text": "家庭医生签约服务",
            }
        ],
        "title": title,
    }
    if row.get("description"):
        plan["description"] = row.get("description")
    plan["subject"] = row.patient
    plan["period"] = {k: v for k, v in (("start", row.time("start")), ("end", row.time("end"))) if v}
    if signed := row.time("signed_at"):
        plan["created"] = signed
    if who := row.clinician("doctor_id", "doctor_name"):
        plan["author"] = who
    if row.get("programme"):
        detail = {
            "code": {"text": row.get("programme")},
            "status": "in-progress" if status == "active" else "completed",
        }
        plan["activity"] = [{"detail": detail}]
    row.event(plan.get("created") or plan["period"].get("start"))
    row.out.upsert(plan, row.key("contract", row.need("contract_no")))


def vaccination(row: Row) -> None:
    imm: dict = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": row.concept("vaccine", "vaccine_code", "vaccine_name"),
        "patient": row.patient,
        "occurrenceDateTime": row.time("date"),
        "primarySource": True,
    }
    row.event(imm["occurrenceDateTime"])
    if row.get("lot"):
        imm["lotNumber"] = row.get("lot")
    if row.get("site"):
        imm["site"] = {"text": row.get("site")}
    if row.get("route"):
        imm["route"] = {"text": row.get("route")}
    if row.get("dose"):
        imm["doseQuantity"] = {"value": row.number("dose"), "unit": "mL", "system": UCUM, "code": "mL"}
    if who := row.clinician("nurse_id", "nurse_name"):
        imm["performer"] = [{"actor": who}]
    number = row.get("vaccination_no") or f"{row.need('mrn')}-{row.get('vaccine_code')}-{row.get('date')}"
    row.out.upsert(imm, row.key("vaccination", number))


def procedure(row: Row) -> None:
    proc: dict = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": row.concept("procedure", "code", "name"),
        "subject": row.patient,
        "performedDateTime": row.time("date"),
    }
    if enc := row.visit():
        proc["encounter"] = enc
    if who := row.clinician("doctor_id", "doctor_name"):
        proc["performer"] = [{"actor": who}]
    row.event(proc["performedDateTime"])
    number = row.get("procedure_no") or f"{row.need('mrn')}-{row.get('code')}-{row.get('date')}"
    row.out.upsert(proc, row.key("procedure", number))


ALLERGY_CATEGORY = {
    "medication": "medication",
    "food": "food",
    "environment": "environment",
    "biologic": "biologic",
    "药物": "medication",
    "药品": "medication",
    "食物": "food",
    "环境": "environment",
}
CRITICALITY = {
    "low": "low",
    "high": "high",
    "unable-to-assess": "unable-to-assess",
    "低": "low",
    "高": "high",
}
SEVERITY = {
    "mild": "mild",
    "moderate": "moderate",
    "severe": "severe",
    "轻度": "mild",
    "中度": "moderate",
    "重度": "severe",
}
ALLERGY_STATUS = {
    "active": "active",
    "inactive": "inactive",
    "resolved": "resolved",
    "1": "active",
    "0": "inactive",
}


def allergy(row: Row) -> None:
    """An allergy or intolerance the centre took down (过敏史): substance, reaction, how dangerous."""
    status = row.translate("status", ALLERGY_STATUS) if row.get("status") else "active"
    item: dict = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [{"system": f"{TERMINOLOGY}/allergyintolerance-clinical", "code": status}]
        },
        "verificationStatus": {
            "coding": [{"system": f"{TERMINOLOGY}/allergyintolerance-verification", "code": "confirmed"}]
        },
        "type": "allergy",
    }
    if row.get("category"):
        item["category"] = [row.translate("category", ALLERGY_CATEGORY)]
    if row.get("criticality"):
        item["criticality"] = row.translate("criticality", CRITICALITY)
    item["code"] = row.concept("allergen", "allergen_code", "allergen_name")
    item["patient"] = row.patient
    if enc := row.visit():
        item["encounter"] = enc
    if recorded := row.time("recorded_at"):
        item["recordedDate"] = recorded
    if who := row.clinician("doctor_id", "doctor_name"):
        item["recorder"] = who
    if row.get("reaction_code") or row.get("reaction_name"):
        reaction: dict = {"manifestation": [row.concept("reaction", "reaction_code", "reaction_name")]}
        if row.get("severity"):
            reaction["severity"] = row.translate("severity", SEVERITY)
        item["reaction"] = [reaction]
    row.event(recorded)
    number = row.get("allergy_no") or f"{row.need('mrn')}-{row.get('allergen_code')}"
    row.out.upsert(item, row.key("allergy", number))


PER_ROW: dict[str, Callable[[Row], None]] = {
    "patients": patient,
    "visits": visit,
    "diagnoses": diagnosis,
    "prescriptions": prescription,
    "contracts": contract,
    "vaccinations": vaccination,
    "procedures": procedure,
    "allergies": allergy,
    "staff": staff,
}

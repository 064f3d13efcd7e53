"""The FHIR resources a member writes when it records care: encounters, diagnoses, medicines,
allergies, vaccinations, procedures and programme care plans (lab and imaging results live in
clinical_labs).
"""

from __future__ import annotations

from datetime import date

from yilian.demo.catalog import ALLERGENS, DIAGNOSES, DRUGS, PROCEDURES, ROUTES, VISITS
from yilian.demo.clinical import Ctx
from yilian.demo.feed import (
    ACT_CODE,
    CVX,
    SCT,
    TERMINOLOGY,
    TODAY,
    UCUM,
    clinic_minutes,
    coding,
    concept,
    instant,
)
from yilian.demo.staff import Staff

CLASSES = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency"}


def encounter(
    ctx: Ctx, visit: str, cls: str, doctor: Staff, start: str, end: str, reasons: tuple[str, ...] = ()
) -> dict:
    code, display, text = VISITS[visit]
    enc: dict = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": coding(ACT_CODE, cls, CLASSES[cls]),
        "type": [concept(coding(SCT, code, display), text=text)],
        "subject": ctx.patient,
        "participant": [
            {
                "type": [concept(coding(f"{TERMINOLOGY}/v3-ParticipationType", "ATND", "attender"))],
                "individual": ctx.staff(doctor),
            }
        ],
        "period": {"start": start, "end": end},
    }
    known = [ctx.problems[r] for r in reasons if r in ctx.problems]
    if known:
        enc["reasonReference"] = known
    elif reasons:
        enc["reasonCode"] = [DIAGNOSES[r].code() for r in reasons]
    if cls == "IMP":
        enc["hospitalization"] = {
            "admitSource": concept(
                coding(f"{TERMINOLOGY}/admit-source", "emd", "From accident/emergency department")
            ),
            "dischargeDisposition": concept(
                coding(f"{TERMINOLOGY}/discharge-disposition", "home", "Home"), text="出院回家"
            ),
        }
    enc["serviceProvider"] = ctx.org
    ref = ctx.builder.add(enc)
    if not ctx.asked_allergies:
        ctx.asked_allergies = True
        for allergen in ctx.health.allergies:
            if ctx.rng.random() < 0.7:  # not every member asks, or writes it down
                allergy(ctx, allergen, doctor, ref, start)
    return ref


def condition(
    ctx: Ctx,
    key: str,
    doctor: Staff,
    recorded: str,
    *,
    onset: date,
    enc: dict | None = None,
    resolved: date | None = None,
) -> dict:
    """A problem-list entry (no encounter) or an encounter diagnosis; remembered for later references."""
    category = (
        ("encounter-diagnosis", "Encounter Diagnosis") if enc else ("problem-list-item", "Problem List Item")
    )
    status = "resolved" if resolved else "active"
    cond: dict = {
        "resourceType": "Condition",
        "clinicalStatus": concept(coding(f"{TERMINOLOGY}/condition-clinical", status)),
        "verificationStatus": concept(coding(f"{TERMINOLOGY}/condition-ver-status", "confirmed")),
        "category": [concept(coding(f"{TERMINOLOGY}/condition-category", *category))],
        "code": DIAGNOSES[key].code(),
        "subject": ctx.patient,
    }
    if enc:
        cond["encounter"] = enc
    cond["onsetDateTime"] = onset.isoformat()
    if resolved:
        cond["abatementDateTime"] = resolved.isoformat()
    cond.update({"recordedDate": recorded, "recorder": ctx.staff(doctor)})
    ref = ctx.builder.add(cond)
    ctx.problems.setdefault(key, ref)
    return ref


def _dosage(drug_key: str) -> dict:
    d = DRUGS[drug_key]
    route_code, route_display, route_zh = ROUTES[d.route]
    unit = {"[IU]": "IU", "ug": "μg"}.get(d.unit, d.unit)
    return {
        "text": d.instruction,
        "timing": {"repeat": {"frequency": d.per_day, "period": 1, "periodUnit": "d"}},
        "route": concept(coding(SCT, route_code, route_display), text=route_zh),
        "doseAndRate": [{"doseQuantity": {"value": d.dose, "unit": unit, "system": UCUM, "code": d.unit}}],
    }


def _reason(ctx: Ctx, drug_key: str) -> list[dict]:
    return [
        ctx.problems[k] for k, drugs in ctx.health.drugs.items() if drug_key in drugs and k in ctx.problems
    ][:1]


def prescribe(
    ctx: Ctx,
    drug_key: str,
    doctor: Staff,
    enc: dict,
    when: str,
    *,
    active: bool,
    days: int = 30,
    category: str = "outpatient",
) -> dict:
    mr: dict = {
        "resourceType": "MedicationRequest",
        "status": "active" if active else "completed",
        "intent": "order",
        "category": [concept(coding(f"{TERMINOLOGY}/medicationrequest-category", category))],
        "medicationCodeableConcept": DRUGS[drug_key].code(),
        "subject": ctx.patient,
        "encounter": enc,
        "authoredOn": when,
        "requester": ctx.staff(doctor),
    }
    if reason := _reason(ctx, drug_key):
        mr["reasonReference"] = reason
    mr["dosageInstruction"] = [_dosage(drug_key)]
    mr["dispenseRequest"] = {
        "expectedSupplyDuration": {"value": days, "unit": "天", "system": UCUM, "code": "d"}
    }
    return ctx.builder.add(mr)


def medication_statement(ctx: Ctx, drug_key: str, doctor: Staff, since: date, asserted: str) -> dict:
    ms: dict = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "category": concept(coding(f"{TERMINOLOGY}/medication-statement-category", "community", "Community")),
        "medicationCodeableConcept": DRUGS[drug_key].code(),
        "subject": ctx.patient,
        "effectivePeriod": {"start": since.isoformat()},
        "dateAsserted": asserted,
        "informationSource": ctx.staff(doctor),
    }
    if reason := _reason(ctx, drug_key):
        ms["reasonReference"] = reason
    ms["dosage"] = [_dosage(drug_key)]
    return ctx.builder.add(ms)


def allergy(ctx: Ctx, allergen: str, doctor: Staff, enc: dict, recorded: str) -> dict:
    code, display, text, r_code, r_display, r_text = ALLERGENS[allergen]
    return ctx.builder.add(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": concept(coding(f"{TERMINOLOGY}/allergyintolerance-clinical", "active")),
            "verificationStatus": concept(
                coding(f"{TERMINOLOGY}/allergyintolerance-verification", "confirmed")
            ),
            "type": "allergy",
            "category": ["medication"],
            "criticality": "high" if allergen == "penicillin" else "low",
            "code": concept(coding(SCT, code, display), text=text),
            "patient": ctx.patient,
            "encounter": enc,
            "recordedDate": recorded,
            "recorder": ctx.staff(doctor),
            "reaction": [
                {
                    "manifestation": [concept(coding(SCT, r_code, r_display), text=r_text)],
                    "severity": "moderate",
                }
            ],
        }
    )


def immunization(ctx: Ctx, nurse: Staff, when: str, lot: str) -> dict:
    """Seasonal influenza vaccine, the one every community centre gives each autumn."""
    return ctx.builder.add(
        {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": concept(
                coding(CVX, "150", "Influenza, injectable, quadrivalent, preservative free"),
                text="四价流感病毒裂解疫苗",
            ),
            "patient": ctx.patient,
            "occurrenceDateTime": when,
            "primarySource": True,
            "lotNumber": lot,
            "site": concept(coding(f"{TERMINOLOGY}/v3-ActSite", "LA", "left arm"), text="左上臂三角肌"),
            "route": concept(
                coding(f"{TERMINOLOGY}/v3-RouteOfAdministration", "IM", "Injection, intramuscular"),
                text="肌内注射",
            ),
            "doseQuantity": {"value": 0.5, "unit": "mL", "system": UCUM, "code": "mL"},
            "performer": [{"actor": ctx.staff(nurse)}],
        }
    )


def procedure(ctx: Ctx, key: str, doctor: Staff, enc: dict, when: str, reason: str | None = None) -> dict:
    code, display, text = PROCEDURES[key]
    proc: dict = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": concept(coding(SCT, code, display), text=text),
        "subject": ctx.patient,
        "encounter": enc,
        "performedDateTime": when,
        "performer": [{"actor": ctx.staff(doctor)}],
    }
    if reason and reason in ctx.problems:
        proc["reasonReference"] = [ctx.problems[reason]]
    return ctx.builder.add(proc)


# Programme care plans of the national basic public-health service (国家基本公共卫生服务规范 第三版).
CARE_PLANS = {
    "htn": (
        "高血压患者健康管理",
        "每年至少4次面对面随访：测量血压、评估危险因素、调整用药，并进行生活方式指导。",
    ),
    "t2dm": (
        "2型糖尿病患者健康管理",
        "每年至少4次面对面随访：测量空腹血糖和血压，每年1次糖化血红蛋白检测及足部检查。",
    ),
    "elderly": (
        "65岁及以上老年人健康管理",
        "每年1次健康体检（含中医体质辨识），评估生活自理能力并进行健康指导。",
    ),
    "pregnancy": (
        "孕产妇健康管理",
        "孕13周前建册，孕16-20、21-24、28-36、37-40周产前随访，产后42天健康检查。",
    ),
    "child": ("0-6岁儿童健康管理", "3、6、8、12、18、24、30、36月龄及4-6岁每年健康检查，按时预防接种。"),
}


def care_plan(ctx: Ctx, programme: str, doctor: Staff, start: date, created: str) -> dict:
    title, activity = CARE_PLANS[programme]
    category = (
        concept(coding(SCT, "134435003", "Routine antenatal care"), text="孕产妇保健")
        if programme == "pregnancy"
        else concept(coding(SCT, "734163000", "Care plan"), text="基本公共卫生服务")
    )
    plan: dict = {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "category": [category],
        "title": title,
        "description": f"{ctx.site.name}家庭医生团队签约管理：{title}。",
        "subject": ctx.patient,
        "period": {"start": start.isoformat()},
        "created": created,
        "author": ctx.staff(doctor),
    }
    if programme in ctx.problems:
        plan["addresses"] = [ctx.problems[programme]]
    plan["activity"] = [
        {"detail": {"code": concept(text="定期随访"), "status": "in-progress", "description": activity}}
    ]
    return ctx.builder.add(plan)


def noon(day: date) -> str:
    return instant(day, 12 * 60)


def capped(day: date) -> date:
    """Schedules computed forward in time stop at the demo's today."""
    return min(day, TODAY)


def visit(
    ctx: Ctx, kind: str, doctor: Staff, day: date, reasons: tuple[str, ...] = (), cls: str = "AMB"
) -> tuple[dict, int]:
    """A quarter-hour clinic visit; returns the Encounter reference and its start in minutes."""
    minutes = clinic_minutes(ctx.rng)
    enc = encounter(ctx, kind, cls, doctor, instant(day, minutes), instant(day, minutes + 15), reasons)
    return enc, minutes

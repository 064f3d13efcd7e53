"""Governance pages: break-glass (open it, and the security officer's review list) and asking a patient
for consent. Every clinical write goes through the router as the signed-in user."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate import breakglass
from yilian.gate.users import User
from yilian.store.search.dates import instant
from yilian.web import i18n
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)
OFFICERS = frozenset({"auditor", "admin"})
CONSENT_REQUEST = ("https://yilian.org/fhir/CodeSystem/notice", "consent-request")

i18n.register(
    {
        "bg.title": "紧急调阅（破窗）",
        "bg.explain": "仅限危及生命等紧急情况。须填写理由；调阅有时限，全程记录，"
        "患者会收到通知，安全管理员将逐条审核。",
        "bg.reason": "理由",
        "bg.reason_hint": "例如：患者昏迷送急诊，需查既往史与用药",
        "bg.open": "紧急调阅",
        "bg.active": "紧急调阅中",
        "bg.until": "有效至",
        "nav.security": "破窗审核",
        "sec.title": "紧急调阅审核",
        "sec.none": "没有待审核的紧急调阅。",
        "sec.who": "调阅人",
        "sec.patient": "患者",
        "sec.when": "时间",
        "sec.review": "审核意见",
        "sec.approve": "提交审核",
        "sec.reviewed": "已审核",
        "consent.missing_title": "其他成员单位的记录未显示：",
        "consent.missing_no-consent": "患者尚未同意向本单位共享其在其他成员单位的诊疗记录。可向患者发起授权请求。",
        "consent.missing_deny": "患者已拒绝向本单位共享其在其他成员单位的诊疗记录。如需调阅，请与患者沟通。",
        "consent.request": "请求患者授权",
        "consent.request_sent": "已向患者发送授权请求。",
    },
    {
        "bg.title": "Emergency access (break the glass)",
        "bg.explain": "Only for emergencies such as a threat to "
        "life. Give the reason; access is time-limited and recorded, the patient is told and the security "
        "officer reviews every one.",
        "bg.reason": "Reason",
        "bg.reason_hint": "e.g. unconscious in the ED, need history and medications",
        "bg.open": "Open in an emergency",
        "bg.active": "Emergency access",
        "bg.until": "until",
        "nav.security": "Break-glass review",
        "sec.title": "Break-glass review",
        "sec.none": "No emergency accesses wait for review.",
        "sec.who": "Who",
        "sec.patient": "Patient",
        "sec.when": "When",
        "sec.review": "Review note",
        "sec.approve": "Record review",
        "sec.reviewed": "Reviewed",
        "consent.missing_title": "Records from other members are not shown:",
        "consent.missing_no-consent": "the patient has not agreed to share their records at other members with "
        "your organisation. You can ask the patient.",
        "consent.missing_deny": "the patient declined to share their records at other members with your "
        "organisation. Talk to the patient if you need them.",
        "consent.request": "Ask the patient for consent",
        "consent.request_sent": "The request was sent.",
    },
)


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_nav("/security/break-glass", "nav.security", "security", OFFICERS)


@router.post("/patients/{patient_id}/break-glass")
def open_break_glass(
    request: Request, patient_id: str, reason: str = Form(""), user: User = Depends(signed_in)
) -> Response:
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": reason}]}
    try:
        handle(
            request.app.state.gate,
            user.caller(),
            FhirRequest("POST", f"Patient/{patient_id}/$break-glass", body=body),
        )
    except FhirError as err:
        return error_page(request, err, user, break_glass_for=patient_id)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/consent-request")
def request_consent(request: Request, patient_id: str, user: User = Depends(signed_in)) -> Response:
    """Ask the patient (a Communication in their record, shown in their portal) to consider sharing their
    records at other members with this one. (Task would fit too, but R4 keeps Task out of the Patient
    compartment, so the patient could not see it.)"""
    task = {
        "resourceType": "Communication",
        "status": "in-progress",
        "category": [
            {
                "coding": [{"system": CONSENT_REQUEST[0], "code": CONSENT_REQUEST[1]}],
                "text": "共享授权请求 Consent request",
            }
        ],
        "subject": {"reference": f"Patient/{patient_id}"},
        "recipient": [{"reference": f"Patient/{patient_id}"}],
        "sender": {"reference": f"Organization/{user.organization}"},
        "sent": instant(time.time()),
        "payload": [
            {"contentString": f"{user.name} 请求您同意本单位在诊疗中调阅您在医联体其他成员单位的记录。"}
        ],
    }
    try:
        handle(request.app.state.gate, user.caller(), FhirRequest("POST", "Communication", body=task))
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse(f"/patients/{patient_id}?requested=1", status_code=303)


@router.get("/security/break-glass", response_class=HTMLResponse)
def review_list(request: Request, all: bool = False, user: User = Depends(signed_in)) -> HTMLResponse:  # noqa: A002
    if not user.roles & OFFICERS:
        return error_page(request, FhirError(403, []), user)
    with request.app.state.gate.engine.connect() as conn:
        rows = breakglass.for_review(conn, pending_only=not all)
    return render(request, "gate/review.html", user=user, rows=rows, active="security", show_all=all)


@router.post("/security/break-glass/{access_id}/review")
def record_review(
    request: Request, access_id: str, note: str = Form(""), user: User = Depends(signed_in)
) -> Response:
    try:
        with request.app.state.gate.engine.begin() as conn:
            breakglass.review(conn, access_id, user.caller(), note)
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse("/security/break-glass", status_code=303)

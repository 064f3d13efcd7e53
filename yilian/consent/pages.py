"""The patient portal's consent page: see every consent, give or withdraw one, answer members' requests;
the consequences said plainly. Everything is read and written through the router as the patient."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yilian.consent.build import NOTICE_VERSION, consent
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError, forbidden
from yilian.fhir.router import handle
from yilian.gate.users import User
from yilian.store.search.dates import instant
from yilian.web import i18n
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)
PATIENTS = frozenset({"patient"})

i18n.register(
    {
        "nav.portal": "我的授权",
        "portal.title": "我的数据授权",
        "portal.intro": "医联体各成员单位只有在您同意后，才能在为您诊疗时调阅您在其他成员单位的记录。您可以随时撤回同意。",
        "portal.grant_all": "同意医联体所有成员单位在为我诊疗时调阅我的记录",
        "portal.grant_member": "只同意以下单位：",
        "portal.grant": "同意",
        "portal.withdraw": "撤回",
        "portal.consequence_grant": "同意后：为您诊疗的医生可以看到您在其他成员单位的检查、用药和诊断，减少重复检查。"
        "HIV、严重精神障碍、遗传等高度敏感信息仍不会共享，除非您单独明确同意。",
        "portal.consequence_withdraw": "撤回后：从下一次访问起不再共享；已经发生的调阅不会被抹去，仍记录在访问日志中，您可以随时查看。",
        "portal.mine": "我的授权记录",
        "portal.none": "您还没有任何授权记录：目前各成员单位只能看到本单位为您建立的记录。",
        "portal.requests": "待处理的授权请求",
        "portal.accept": "同意",
        "portal.decline": "拒绝",
        "portal.permit": "同意",
        "portal.deny": "拒绝",
        "portal.active": "有效",
        "portal.inactive": "已撤回",
        "portal.all_members": "医联体所有成员单位",
        "portal.purpose.TREAT": "诊疗",
        "portal.captured": "记录方式",
        "portal.date": "日期",
        "portal.who": "对象",
        "portal.for": "用途",
        "portal.state": "状态",
        "portal.decision": "决定",
        "desk.title": "登记患者在本单位窗口给出的授权",
        "desk.method": "方式",
        "desk.evidence": "凭证（扫描件编号、录音编号等）",
        "desk.record": "登记",
        "desk.recorded": "授权已登记。",
        "desk.scope_all": "医联体所有成员单位",
        "method.signature": "签字",
        "method.spoken-recorded": "口头同意并录音",
        "method.implied-after-notice": "告知后以行为默示",
    },
    {
        "nav.portal": "My consents",
        "portal.title": "Who may use my records",
        "portal.intro": "Members of the alliance can read your records from other members only when you agree. You can "
        "withdraw at any time.",
        "portal.grant_all": "Let every member of the alliance use my records to treat me",
        "portal.grant_member": "Only this member:",
        "portal.grant": "Agree",
        "portal.withdraw": "Withdraw",
        "portal.consequence_grant": "If you agree: doctors treating you see your tests, medicines and diagnoses "
        "from other members, so you are not tested again for nothing. HIV, severe mental disorder and genetic "
        "information are still not shared unless you agree to that separately.",
        "portal.consequence_withdraw": "If you withdraw: sharing stops from the next access. Accesses that already "
        "happened are not erased; they stay in your access log, which you can always see.",
        "portal.mine": "My consents",
        "portal.none": "You have no consents yet: each member sees only the records it made itself.",
        "portal.requests": "Requests waiting for you",
        "portal.accept": "Agree",
        "portal.decline": "Decline",
        "portal.permit": "Agreed",
        "portal.deny": "Declined",
        "portal.active": "In force",
        "portal.inactive": "Withdrawn",
        "portal.all_members": "Every member of the alliance",
        "portal.purpose.TREAT": "Treatment",
        "portal.captured": "Given by",
        "portal.date": "Date",
        "portal.who": "Who",
        "portal.for": "For",
        "portal.state": "State",
        "portal.decision": "Decision",
        "desk.title": "Record a consent the patient gave at this desk",
        "desk.method": "How",
        "desk.evidence": "Evidence (scan number, recording number...)",
        "desk.record": "Record",
        "desk.recorded": "The consent was recorded.",
        "desk.scope_all": "Every member of the alliance",
        "method.signature": "Signed",
        "method.spoken-recorded": "Spoken and recorded",
        "method.implied-after-notice": "Implied by an act after notice",
    },
)


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_nav("/portal", "nav.portal", "portal", PATIENTS)


def _patient(user: User) -> str:
    if not user.patient_id:
        raise forbidden("This page is for patients")
    return user.patient_id


def _fhir(request: Request, user: User, method: str, path: str, query=None, body=None) -> dict:  # noqa: ANN001
    response = handle(request.app.state.gate, user.caller(), FhirRequest(method, path, query or [], body))
    return response.resource() or {}


@router.get("/portal", response_class=HTMLResponse)
def portal(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        pid = _patient(user)
        consents = _entries(
            _fhir(
                request,
                user,
                "GET",
                "Consent",
                [("patient", f"Patient/{pid}"), ("_sort", "-date"), ("_count", "100")],
            )
        )
        tasks = _entries(
            _fhir(
                request,
                user,
                "GET",
                "Communication",
                [
                    ("subject", f"Patient/{pid}"),
                    ("category", "https://yilian.org/fhir/CodeSystem/notice|consent-request"),
                ],
            )
        )
        members = _entries(_fhir(request, user, "GET", "Organization", [("_count", "100")]))
    except FhirError as err:
        return error_page(request, err, user)
    names = {o["id"]: o.get("name", o["id"]) for o in members}
    pending = [t for t in tasks if not _answered(t, consents)]
    return render(
        request,
        "consent/portal.html",
        user=user,
        active="portal",
        consents=consents,
        names=names,
        requests=pending,
        members=sorted(names.items(), key=lambda kv: kv[1]),
    )


@router.post("/portal/consents")
def give(
    request: Request, member: str = Form(""), decision: str = Form("permit"), user: User = Depends(signed_in)
) -> Response:
    try:
        _fhir(
            request,
            user,
            "POST",
            "Consent",
            body=portal_consent(_patient(user), member or None, decision == "permit"),
        )
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse("/portal", status_code=303)


@router.post("/patients/{patient_id}/consents")
def record_at_desk(
    request: Request,
    patient_id: str,
    decision: str = Form("permit"),
    member: str = Form(""),
    method: str = Form("signature"),
    evidence: str = Form(""),
    user: User = Depends(signed_in),
) -> Response:
    """Staff record a consent the patient gave at this member's desk, with how it was given and the evidence."""
    body = consent(
        patient_id,
        permit=decision == "permit",
        recipients=(member,) if member else (),
        when=instant(time.time()),
        method=method,
        channel="desk",
        evidence=evidence.strip() or "",
        notice=NOTICE_VERSION,
    )
    if not evidence.strip():
        body.pop("sourceAttachment")  # the consent rules then ask for the evidence, readably
    try:
        _fhir(request, user, "POST", "Consent", body=body)
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse(f"/patients/{patient_id}?consent=recorded", status_code=303)


@router.post("/portal/consents/{consent_id}/withdraw")
def withdraw(request: Request, consent_id: str, user: User = Depends(signed_in)) -> Response:
    try:
        consent = _fhir(request, user, "GET", f"Consent/{consent_id}")
        consent["status"] = "inactive"
        _fhir(request, user, "PUT", f"Consent/{consent_id}", body=consent)
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse("/portal", status_code=303)


def portal_consent(patient_id: str, member: str | None, permit: bool) -> dict:
    """A consent the patient gives by clicking in the portal after reading the notice."""
    now = instant(time.time())
    return consent(
        patient_id,
        permit=permit,
        recipients=(member,) if member else (),
        when=now,
        method="explicit-click",
        channel="portal",
        evidence=f"患者门户点击确认 {now}",
        notice=NOTICE_VERSION,
    )


def _entries(bundle: dict) -> list[dict]:
    return [
        e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode", "match") == "match"
    ]


def _recipient(consent: dict) -> str | None:
    actors = consent.get("provision", {}).get("actor", [])
    return actors[0]["reference"]["reference"].split("/", 1)[1] if actors else None


def _requester(task: dict) -> str | None:
    ref = task.get("sender", {}).get("reference", "")
    return ref.split("/", 1)[1] if "/" in ref else None


def _answered(task: dict, consents: list[dict]) -> bool:
    """A request is answered once the patient decided about its member after it was made."""
    return any(
        _recipient(c) == _requester(task) and c.get("dateTime", "") >= task.get("sent", "") for c in consents
    )

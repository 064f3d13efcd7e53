"""The feeds' pages for a member's IT staff (信息科) and the alliance administrator: the data-quality
report, the dead letters, and fixing and replaying one. Member IT sees its own member only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yilian.fhir.outcomes import FhirError
from yilian.gate.users import User
from yilian.ingest import store
from yilian.ingest.errors import IngestError
from yilian.ingest.quality import report
from yilian.ingest.service import fix
from yilian.web import i18n
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)
ROLES = frozenset({"admin", "member-it"})

i18n.register(
    {
        "nav.ingest": "数据接入",
        "ingest.title": "数据接入质量报告",
        "ingest.member": "成员单位",
        "ingest.all": "全部",
        "ingest.messages": "消息",
        "ingest.processed": "已处理",
        "ingest.rejected": "拒收",
        "ingest.duplicates": "重复",
        "ingest.rejection_rate": "拒收率",
        "ingest.timeliness": "及时性（事件发生至到达平台）",
        "ingest.median": "中位数",
        "ingest.within_24h": "24小时内到达",
        "ingest.volumes": "数据量",
        "ingest.kind": "类型",
        "ingest.reasons": "拒收原因",
        "ingest.unmapped": "未映射的本地编码",
        "ingest.code": "本地编码",
        "ingest.name": "名称",
        "ingest.count": "次数",
        "ingest.completeness": "核心数据元完整性（WS 365 / WS 445）",
        "ingest.field": "数据元",
        "ingest.rate": "完整率",
        "ingest.dead_letters": "死信（被拒收、待修正的消息）",
        "ingest.none": "没有死信。",
        "ingest.error": "错误",
        "ingest.received": "接收时间",
        "ingest.open": "查看并修正",
        "ingest.fix_title": "修正并重新处理",
        "ingest.content": "消息内容",
        "ingest.replay": "保存修正并重新处理",
        "ingest.replayed_ok": "已重新处理并入库。",
        "ingest.no_data": "尚无接入数据。",
    },
    {
        "nav.ingest": "Feeds",
        "ingest.title": "Feed data quality",
        "ingest.member": "Member",
        "ingest.all": "All",
        "ingest.messages": "Messages",
        "ingest.processed": "Processed",
        "ingest.rejected": "Rejected",
        "ingest.duplicates": "Duplicates",
        "ingest.rejection_rate": "Rejection rate",
        "ingest.timeliness": "Timeliness (event to arrival)",
        "ingest.median": "median",
        "ingest.within_24h": "within 24 h",
        "ingest.volumes": "Volumes",
        "ingest.kind": "Kind",
        "ingest.reasons": "Rejection reasons",
        "ingest.unmapped": "Unmapped local codes",
        "ingest.code": "Local code",
        "ingest.name": "Name",
        "ingest.count": "Count",
        "ingest.completeness": "Completeness of core data elements (WS 365 / WS 445)",
        "ingest.field": "Data element",
        "ingest.rate": "Rate",
        "ingest.dead_letters": "Dead letters (refused messages waiting for a fix)",
        "ingest.none": "No dead letters.",
        "ingest.error": "Error",
        "ingest.received": "Received",
        "ingest.open": "View and fix",
        "ingest.fix_title": "Fix and replay",
        "ingest.content": "Message content",
        "ingest.replay": "Save the fix and process again",
        "ingest.replayed_ok": "Processed again and recorded.",
        "ingest.no_data": "No feed data yet.",
    },
)
add_nav("/ingest", "nav.ingest", "ingest", ROLES)


def _allowed(user: User) -> bool:
    return bool(ROLES & user.roles)


def _scope(user: User, member: str) -> str | None:
    """Member IT sees its own member whatever it asks; the administrator any member, or all."""
    if "admin" in user.roles:
        return member or None
    return user.organization or "-"


def _forbidden(request: Request, user: User) -> HTMLResponse:
    from yilian.fhir.outcomes import forbidden

    return error_page(
        request, forbidden("The feed pages are for member IT staff and the alliance administrator"), user
    )


@router.get("/ingest", response_class=HTMLResponse)
def quality_page(request: Request, member: str = "", user: User = Depends(signed_in)) -> HTMLResponse:
    if not _allowed(user):
        return _forbidden(request, user)
    gate, scope = request.app.state.gate, _scope(user, member)
    try:
        members = report(gate, user.caller("HOPERAT"), scope)
    except FhirError as err:
        return error_page(request, err, user)
    letters = store.list_messages(gate.engine, status=store.REJECTED, member=scope, limit=200)
    return render(
        request,
        "ingest/quality.html",
        user=user,
        active="ingest",
        members=members,
        letters=letters,
        member=member,
        is_admin="admin" in user.roles,
    )


def _message(request: Request, user: User, message_id: int) -> store.MessageRow | None:
    row = store.get_message(request.app.state.gate.engine, message_id)
    if row is None or ("admin" not in user.roles and row.member != user.organization):
        return None
    return row


@router.get("/ingest/messages/{message_id}", response_class=HTMLResponse)
def message_page(request: Request, message_id: int, user: User = Depends(signed_in)) -> HTMLResponse:
    if not _allowed(user):
        return _forbidden(request, user)
    row = _message(request, user, message_id)
    if row is None:
        from yilian.fhir.outcomes import not_found

        return error_page(request, not_found(f"No message {message_id} of your member"), user)
    return render(
        request,
        "ingest/message.html",
        user=user,
        active="ingest",
        row=row,
        content=row.text().replace("\r", "\n"),
        error=None,
        replayed=request.query_params.get("ok"),
    )


@router.post("/ingest/messages/{message_id}/replay", response_model=None)
def replay_page(
    request: Request, message_id: int, content: str = Form(...), user: User = Depends(signed_in)
) -> Response:
    if not _allowed(user):
        return _forbidden(request, user)
    row = _message(request, user, message_id)
    if row is None:
        return RedirectResponse("/ingest", status_code=303)
    text = content.replace("\r\n", "\n")
    payload = text.replace("\n", "\r").encode("utf-8") if row.format == "hl7v2" else text.encode("utf-8")
    try:
        results = fix(request.app.state.gate, message_id, payload)
    except IngestError as err:
        results, error = [], str(err)
    else:
        error = results[0].error if results and results[0].status == "rejected" else None
    if error is None and results:
        return RedirectResponse(f"/ingest/messages/{message_id}?ok=1", status_code=303)
    fresh = _message(request, user, message_id) or row
    return render(
        request,
        "ingest/message.html",
        status=422,
        user=user,
        active="ingest",
        row=fresh,
        content=text,
        error=error,
        replayed=None,
    )

"""Audit pages: the patient's access log (with downloadable inclusion proofs), the security officer's audit
log search, event detail and integrity check; the checkpoint endpoints members use to countersign.

`install(app)` also mounts the security pages (alerts, incidents) and runs the folder thread for the
app's lifetime.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from datetime import datetime

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from yilian.audit import access_log, hooks, proofs
from yilian.audit.folder import Folder
from yilian.audit.log import AuditLog, of
from yilian.audit.strings import register_strings
from yilian.audit.verify import verify_log
from yilian.fhir.outcomes import FhirError, forbidden, not_found
from yilian.gate.users import User, authenticate
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)
OFFICERS = frozenset({"auditor", "admin"})
PAGE = 100


def install(app: FastAPI) -> None:
    from yilian.security import pages as security_pages

    register_strings()
    app.include_router(router)
    security_pages.install(app)
    add_nav("/portal/access-log", "nav.access_log", "access-log", frozenset({"patient"}))
    add_nav("/security/audit", "nav.audit", "audit", OFFICERS)
    _run_folder(app)


def _run_folder(app: FastAPI) -> None:
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):  # noqa: ANN202
        log = of(a.state.gate)
        folder = Folder(log) if log is not None else None
        if folder:
            folder.start()
        try:
            async with previous(a) as state:
                yield state
        finally:
            if folder:
                await run_in_threadpool(folder.stop)

    app.router.lifespan_context = lifespan


def audit_log(request: Request) -> AuditLog:
    """The app's audit log, with the read-path spool drained so the views show the latest accesses."""
    log = of(request.app.state.gate)
    if log is None:
        raise not_found("The audit log is not enabled")
    log.drain()
    return log


def officer(user: User) -> None:
    if not user.roles & OFFICERS:
        raise forbidden("Only the security officer (auditor) or the alliance administrator may see this")


def _person_ids(request: Request, user: User) -> list[str]:
    """The signed-in patient's record ids: their Patient and the registrations it links to."""
    if not user.patient_id:
        raise forbidden("This page is for patients")
    from yilian.fhir.messages import FhirRequest
    from yilian.fhir.router import handle

    ids = [user.patient_id]
    patient = handle(request.app.state.gate, user.caller(), FhirRequest("GET", f"Patient/{user.patient_id}"))
    for link in (patient.resource() or {}).get("link", []):
        ref = link.get("other", {}).get("reference", "")
        if ref.startswith("Patient/"):
            ids.append(ref.split("/", 1)[1])
    return ids


def _names(request: Request, user: User) -> dict[str, str]:
    """Member names by Organization id (the directory every signed-in user may read)."""
    from yilian.web import records

    try:
        return records.directory(request.app.state.gate, user.caller()).names
    except FhirError:
        return {}


# ---- the patient's access log ---------------------------------------------------------------------


@router.get("/portal/access-log", response_class=HTMLResponse)
def patient_access_log(request: Request, page: int = 0, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        ids = _person_ids(request, user)
        log = audit_log(request)
        with log.engine.connect() as conn:
            rows = access_log.patient_log(conn, ids, exclude_user=user.id, limit=PAGE, offset=page * PAGE)
        hooks.viewed(log_gate(request), user.caller(), "access-log", set(ids))
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request,
        "audit/access_log.html",
        user=user,
        active="access-log",
        rows=rows,
        names=_names(request, user),
        page=page,
        more=len(rows) == PAGE,
        purposes=access_log.PURPOSE_LABELS,
    )


def log_gate(request: Request):  # noqa: ANN201 - the app's Gate
    return request.app.state.gate


@router.get("/portal/access-log/{seq}/proof.json")
def patient_proof(request: Request, seq: int, user: User = Depends(signed_in)) -> Response:
    try:
        ids = _person_ids(request, user)
        log = audit_log(request)
        with log.engine.connect() as conn:
            if not access_log.is_about(conn, seq, ids):
                raise not_found(f"No access {seq} to your records")
        return _proof_response(request, log, seq, user, set(ids))
    except FhirError as err:
        return error_page(request, err, user)


def _proof_response(request: Request, log: AuditLog, seq: int, user: User, patients: set[str]) -> Response:
    with log.engine.connect() as conn:
        leaf = access_log.leaf_of(conn, seq)
    if leaf is None:
        log.fold()  # recorded but not yet folded: fold now rather than make the reader wait
        with log.engine.connect() as conn:
            leaf = access_log.leaf_of(conn, seq)
    if leaf is None:
        raise not_found(f"Access {seq} is not in the audit log")
    with log.engine.connect() as conn:
        proof = proofs.inclusion(log, conn, leaf)
    hooks.viewed(log_gate(request), user.caller(), "proof", patients)
    return Response(
        orjson.dumps(proof, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="yilian-audit-proof-{leaf}.json"'},
    )


# ---- the security officer's audit log ---------------------------------------------------------------


@router.get("/security/audit", response_class=HTMLResponse)
def audit_search(
    request: Request,
    user_id: str = "",
    patient: str = "",
    member: str = "",
    action: str = "",
    denied: bool = False,
    break_glass: bool = False,
    since: str = "",
    until: str = "",
    page: int = 0,
    user: User = Depends(signed_in),
) -> HTMLResponse:
    form = dict(
        user_id=user_id,
        patient=patient,
        member=member,
        action=action,
        denied=denied,
        break_glass=break_glass,
        since=since,
        until=until,
    )
    try:
        officer(user)
        log = audit_log(request)
        with log.engine.connect() as conn:
            rows = access_log.search(
                conn,
                user=user_id.strip() or None,
                patient=patient.strip() or None,
                member=member.strip() or None,
                action=action.strip() or None,
                denied=denied,
                break_glass=break_glass,
                since=_day(since),
                until=_day(until, end=True),
                limit=PAGE,
                offset=page * PAGE,
            )
            head = log.head(conn)
        hooks.viewed(
            log_gate(request), user.caller(), "search", {patient.strip()} if patient.strip() else set()
        )
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request,
        "audit/search.html",
        user=user,
        active="audit",
        rows=rows,
        form=form,
        head=head,
        pending=log.pending(),
        names=_names(request, user),
        page=page,
        more=len(rows) == PAGE,
        purposes=access_log.PURPOSE_LABELS,
        suite=log.suite.describe(),
    )


def _day(text: str, end: bool = False) -> float | None:
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        return None
    return day.timestamp() + (86400 if end else 0)


@router.get("/security/audit/events/{seq}", response_class=HTMLResponse)
def audit_event(request: Request, seq: int, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        officer(user)
        log = audit_log(request)
        with log.engine.connect() as conn:
            found = access_log.event(conn, seq)
        if found is None:
            raise not_found(f"No audit event {seq}")
        access, resource = found
        hooks.viewed(log_gate(request), user.caller(), "event", set(access.patients))
    except FhirError as err:
        return error_page(request, err, user)
    pretty = orjson.dumps(resource, option=orjson.OPT_INDENT_2).decode()
    return render(
        request,
        "audit/event.html",
        user=user,
        active="audit",
        access=access,
        pretty=pretty,
        names=_names(request, user),
        purposes=access_log.PURPOSE_LABELS,
    )


@router.get("/security/audit/events/{seq}/proof.json")
def officer_proof(request: Request, seq: int, user: User = Depends(signed_in)) -> Response:
    try:
        officer(user)
        log = audit_log(request)
        with log.engine.connect() as conn:
            found = access_log.event(conn, seq)
        return _proof_response(request, log, seq, user, set(found[0].patients) if found else set())
    except FhirError as err:
        return error_page(request, err, user)


@router.post("/security/audit/verify", response_class=HTMLResponse)
def verify_now(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        officer(user)
        log = audit_log(request)
        log.fold_all()
        started = time.perf_counter()
        report = verify_log(log)
        seconds = time.perf_counter() - started
        hooks.viewed(log_gate(request), user.caller(), "verify")
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request,
        "audit/verify.html",
        user=user,
        active="audit",
        report=report,
        seconds=seconds,
        head=log.head(),
        suite=log.suite.describe(),
    )


# ---- checkpoints for members (bearer token, like the FHIR API) ---------------------------------------


@router.get("/audit/checkpoint", response_class=PlainTextResponse)
def checkpoint(request: Request) -> PlainTextResponse:
    """The newest signed checkpoint, as a note members countersign and keep."""
    gate = log_gate(request)
    authenticate(gate.engine, request.headers.get("authorization"), None)
    head = audit_log(request).head()
    if head.note is None:
        raise not_found("The audit log has no checkpoint yet")
    return PlainTextResponse(head.note)


@router.post("/audit/checkpoint/cosignature", response_class=PlainTextResponse)
async def cosign(request: Request) -> PlainTextResponse:
    """A member hands back a checkpoint it countersigned; the log keeps the countersignature."""
    from yilian.audit.witness import add_cosignature

    gate = log_gate(request)
    caller = await run_in_threadpool(authenticate, gate.engine, request.headers.get("authorization"), None)
    note = (await request.body()).decode()
    log = audit_log(request)
    names = await run_in_threadpool(add_cosignature, log, note, caller.organization)
    return PlainTextResponse(f"countersigned by {', '.join(names)}\n")

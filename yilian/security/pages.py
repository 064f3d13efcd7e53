"""The security officer's pages: anomaly alerts with the break-glass accesses, and incident response
(record, affected patients, notify, report). Officers only: auditor or admin."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yilian.audit import access_log, hooks
from yilian.audit.log import of
from yilian.audit.record import insert_events
from yilian.fhir.outcomes import FhirError, bad_request
from yilian.gate.users import User
from yilian.security import anomalies, incidents
from yilian.security.interfaces import ConsoleNotifier, Notifier
from yilian.web.pages import error_page, render, signed_in

router = APIRouter(include_in_schema=False)


def install(app: FastAPI) -> None:
    app.include_router(router)


def notifier(request: Request) -> Notifier:
    """The app's notifier (a deployment sets app.state.notifier to its SMS gateway), else the console."""
    return getattr(request.app.state, "notifier", None) or ConsoleNotifier()


def _officer(user: User, request: Request | None = None) -> None:
    from yilian.audit.pages import audit_log, officer

    officer(user)
    if request is not None:
        audit_log(request)  # drains the read-path spool: alerts and incidents see every access


def _names(request: Request, user: User) -> dict[str, str]:
    from yilian.audit.pages import _names as names

    return names(request, user)


@router.get("/security/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, days: int = 1, user: User = Depends(signed_in)) -> HTMLResponse:
    days = days if days in (1, 7, 30) else 1
    settings = request.app.state.settings
    since = time.time() - days * 86400
    try:
        _officer(user, request)
        with request.app.state.gate.engine.connect() as conn:
            found = anomalies.alerts(
                conn,
                request.app.state.gate,
                patients_per_day=settings.anomaly_patients,
                denials=settings.anomaly_denials,
                since=since,
            )
            emergencies = access_log.search(conn, break_glass=True, since=since, limit=200)
        hooks.viewed(request.app.state.gate, user.caller(), "alerts")
    except FhirError as err:
        return error_page(request, err, user)
    limits = {"patients": settings.anomaly_patients, "denials": settings.anomaly_denials}
    return render(
        request,
        "audit/alerts.html",
        user=user,
        active="audit",
        tab="alerts",
        alerts=found,
        emergencies=emergencies,
        days=days,
        limits=limits,
        names=_names(request, user),
    )


@router.get("/security/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        _officer(user)
        with request.app.state.gate.engine.connect() as conn:
            found = incidents.list_incidents(conn)
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request, "audit/incidents.html", user=user, active="audit", tab="incidents", incidents=found
    )


def parse_time(text: str) -> float:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            continue
    raise bad_request(f"'{text}' is not a time like 2026-11-24 08:00")


@router.post("/security/incidents")
def record_incident(
    request: Request,
    title: str = Form(""),
    description: str = Form(""),
    start: str = Form(""),
    end: str = Form(""),
    users: str = Form(""),
    member: str = Form(""),
    user: User = Depends(signed_in),
) -> Response:
    try:
        _officer(user, request)
        with request.app.state.gate.engine.begin() as conn:
            inc = incidents.record_incident(
                conn,
                title=title,
                description=description,
                reported_by=user.id,
                window_start=parse_time(start),
                window_end=parse_time(end),
                users=users.split(),
                member=member.strip() or None,
            )
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse(f"/security/incidents/{inc.id}", status_code=303)


@router.get("/security/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str, user: User = Depends(signed_in)) -> HTMLResponse:
    try:
        _officer(user, request)
        with request.app.state.gate.engine.connect() as conn:
            rep = incidents.report(conn, incident_id)
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request,
        "audit/incident.html",
        user=user,
        active="audit",
        tab="incidents",
        rep=rep,
        names=_names(request, user),
    )


@router.post("/security/incidents/{incident_id}/notify")
def notify(request: Request, incident_id: str, user: User = Depends(signed_in)) -> Response:
    try:
        _officer(user)
        notify_patients(request.app.state.gate, incident_id, notifier(request), user.id)
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse(f"/security/incidents/{incident_id}", status_code=303)


def notify_patients(gate, incident_id: str, sender: Notifier, officer: str) -> list[str]:  # noqa: ANN001
    """Notify, and record the notification in the audit log in the same transaction."""
    with gate.engine.begin() as conn:
        told = incidents.notify(conn, incident_id, sender)
        if told and of(gate) is not None:
            insert_events(
                conn, [incidents.notification_event(incidents.get(conn, incident_id), told, officer)]
            )
    return told


@router.post("/security/incidents/{incident_id}/close")
def close(request: Request, incident_id: str, user: User = Depends(signed_in)) -> Response:
    try:
        _officer(user)
        with request.app.state.gate.engine.begin() as conn:
            incidents.close(conn, incident_id)
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse(f"/security/incidents/{incident_id}", status_code=303)

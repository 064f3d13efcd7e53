"""The web shell's pages: sign-in, the alliance home, patient search and the integrated timeline.

Thin handlers: the signed-in user (web.session) becomes a Caller, every read goes through the router
(web.records), and FhirErrors become a readable page in Chinese and English instead of a stack trace.
Handlers are plain `def`, so FastAPI runs the synchronous router in its thread pool.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from yilian.alliance.codes import member_type_of
from yilian.audit import hooks as audit_hooks
from yilian.consent.service import sharing_decision
from yilian.fhir.outcomes import FhirError
from yilian.gate import breakglass
from yilian.gate.tokens import check_password
from yilian.gate.users import User, list_users, user_by_id, user_by_token
from yilian.web import display, i18n, records, summary, timeline
from yilian.web.session import COOKIE, make_session, read_session

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

# The top navigation: (href, i18n key, the `active` name a page passes to mark it). Capabilities append
# their entry with `add_nav` when their pages are installed; `roles` limits who sees it (empty: all).
NAV: list[tuple[str, str, str, frozenset[str]]] = [
    ("/", "nav.home", "home", frozenset()),
    ("/patients", "nav.patients", "patients", frozenset()),
]


def add_nav(href: str, key: str, active: str, roles: frozenset[str] = frozenset()) -> None:
    if all(item[0] != href for item in NAV):
        NAV.append((href, key, active, roles))


# Statuses that are the normal end state of a record; showing them on every entry is noise.
QUIET_STATUSES = frozenset({"final", "finished", "completed", "available", "amended", "corrected"})


class SignInRequired(Exception):
    """Raised by `signed_in` for anonymous requests; answered with a redirect to /signin."""


def install(app: FastAPI) -> None:
    """Mount the pages and static files on the app."""
    app.state.templates = make_templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    app.add_exception_handler(SignInRequired, _to_signin)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters["clock"] = lambda seconds: time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
    env.globals.update(
        t=_t,
        label=_label,
        status_label=_status,
        quiet_statuses=QUIET_STATUSES,
        display=display,
        member_type_of=member_type_of,
        kinds=timeline.KINDS,
        member_type_label=i18n.member_type_label,
        alliance_model_label=i18n.alliance_model_label,
    )
    return templates


@pass_context
def _label(context, prefix: str, code: str | None) -> str:  # noqa: ANN001 - a Jinja context
    return i18n.label(context.get("lang", i18n.DEFAULT_LANG), prefix, code)


@pass_context
def _status(context, kind: str, code: str | None) -> str:  # noqa: ANN001 - a Jinja context
    return i18n.status_label(context.get("lang", i18n.DEFAULT_LANG), kind, code)


@pass_context
def _t(context, key: str) -> str:  # noqa: ANN001 - a Jinja context
    return i18n.translate(context.get("lang", i18n.DEFAULT_LANG), key)


# ---- request helpers ------------------------------------------------------------------------------


def lang_of(request: Request) -> str:
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE))


def current_user(request: Request) -> User | None:
    settings = request.app.state.settings
    user_id = read_session(request.cookies.get(COOKIE), settings.secret_key)
    if user_id is None:
        return None
    return user_by_id(request.app.state.gate.engine, user_id)


def signed_in(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise SignInRequired()
    return user


def _to_signin(request: Request, _exc: Exception) -> Response:
    target = "/signin?" + urlencode({"next": _here(request)})
    if request.headers.get("hx-request"):  # a partial swap cannot follow a redirect; ask htmx to navigate
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _safe_next(target: str | None) -> str:
    """Only local paths, so the sign-in form cannot be used to send people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _lang_toggle(request: Request, lang: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", "en" if lang == "zh" else "zh"))
    return f"{request.url.path}?{urlencode(query)}"


def render(request: Request, name: str, status: int = 200, **context: object) -> HTMLResponse:
    """Render a template with the language, the user and the toggle; remember an explicit ?lang=."""
    lang = lang_of(request)
    context.setdefault("user", None)
    context.setdefault("directory", None)
    context.setdefault("today", date.today())
    user = context["user"]
    context["nav"] = [
        (href, key, act)
        for href, key, act, roles in NAV
        if not roles or (user is not None and roles & user.roles)
    ]
    response = request.app.state.templates.TemplateResponse(
        request,
        name,
        {"lang": lang, "lang_toggle": _lang_toggle(request, lang), **context},
        status_code=status,
    )
    response.headers["Vary"] = "HX-Request, Cookie"
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def error_page(
    request: Request,
    err: FhirError,
    user: User | None = None,
    directory: records.Directory | None = None,
    break_glass_for: str | None = None,
) -> HTMLResponse:
    titles = {lang: i18n.error_title(err.status, lang) for lang in i18n.LANGS}
    name = "_error.html" if request.headers.get("hx-request") else "error.html"
    return render(
        request,
        name,
        err.status,
        error=err,
        titles=titles,
        user=user,
        directory=directory,
        break_glass_for=break_glass_for,
    )


def _members_for_desk(directory, record, caller):  # noqa: ANN001, ANN202
    """Members a consent recorded at this desk may name, when the patient is registered here."""
    here = {display.source_member(r) for r in record.registrations}
    if not caller.organization or caller.organization not in here or directory is None:
        return []
    members = [(m["id"], m.get("name", m["id"])) for m in directory.members]
    return members or sorted(directory.names.items(), key=lambda kv: kv[1])


def _sharing(gate, caller, record):  # noqa: ANN001, ANN202 - a consent Decision or None
    """For a clinician, whether the patient lets this member use records from other members."""
    if not caller.has("clinician", "nurse", "family-doctor", "pharmacist") or not caller.organization:
        return None
    ids = [r["id"] for r in record.registrations] or [record.patient["id"]]
    with gate.engine.connect() as conn:
        return sharing_decision(conn, ids, "TREAT", caller.organization, time.time())


def _caller(user: User):  # noqa: ANN202 - a Caller
    return user.caller()


# ---- sign-in --------------------------------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the usual name
    return render(request, "signin.html", next=_safe_next(next), demo_users=_demo_users(request))


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    token: str = Form(""),
    next: str = Form("/"),  # noqa: A002 - the usual name
) -> Response:
    user = _signed_in_user(request.app.state.gate.engine, username.strip(), password, token.strip())
    audit_hooks.login(request.app.state.gate, user, username.strip() or "token", user is not None, "web")
    if user is None:
        return render(
            request,
            "signin.html",
            401,
            next=_safe_next(next),
            demo_users=_demo_users(request),
            bad_token=True,
        )
    settings = request.app.state.settings
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        make_session(user.id, settings.secret_key, settings.session_hours),
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def _signed_in_user(engine, username: str, password: str, token: str) -> User | None:  # noqa: ANN001
    """The user a password (argon2) or an access token identifies, or None."""
    if username and password:
        try:
            return check_password(engine, username, password)
        except FhirError:
            return None
    return user_by_token(engine, token) if token else None


@router.api_route("/signout", methods=["GET", "POST"])
def signout(request: Request) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _demo_users(request: Request) -> list[tuple[User, str]]:
    """In demo mode, the seeded demo users with their fixed tokens (only those that exist)."""
    if not request.app.state.settings.demo:
        return []
    from yilian.demo.load import DEMO_USERS

    existing = {u.id: u for u in list_users(request.app.state.gate.engine)}
    return [(existing[uid], token) for uid, _n, _k, _r, token in DEMO_USERS if uid in existing]


# ---- pages ----------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    gate, caller = request.app.state.gate, _caller(user)
    try:
        directory = records.directory(gate, caller)
        counts = records.patient_counts(gate, caller, [m["id"] for m in directory.members])
    except FhirError as err:
        return error_page(request, err, user)
    return render(
        request,
        "home.html",
        user=user,
        directory=directory,
        counts=counts,
        model=records.alliance_model(directory.alliance),
    )


@router.get("/patients", response_class=HTMLResponse)
def patients(request: Request, q: str = "", user: User = Depends(signed_in)) -> HTMLResponse:
    gate, caller = request.app.state.gate, _caller(user)
    partial = bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )
    directory = None
    try:
        directory = records.directory(gate, caller)
        found = records.search_patients(gate, caller, q) if q.strip() else []
    except FhirError as err:
        return error_page(request, err, user, directory)
    groups = records.group_registrations(found)
    return render(
        request,
        "patients/_results.html" if partial else "patients/search.html",
        user=user,
        directory=directory,
        q=q,
        groups=groups,
        searched=bool(q.strip()),
    )


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request, patient_id: str, member: str = "", kind: str = "", user: User = Depends(signed_in)
) -> HTMLResponse:
    gate, caller = request.app.state.gate, _caller(user)
    emergency = breakglass.active_reason(gate.engine, user.id, patient_id)
    if emergency:
        caller = caller.with_purpose("ETREAT")  # the open break-glass is used, flagged, for this patient
    directory = None
    try:
        directory = records.directory(gate, caller)
        record = records.patient_record(gate, caller, patient_id)
    except FhirError as err:
        may_break_glass = err.status == 404 and user.roles & {"clinician", "nurse"}
        return error_page(
            request, err, user, directory, break_glass_for=patient_id if may_break_glass else None
        )
    every = timeline.entries(record.resources)
    shown = timeline.select(every, member or None, kind if kind in timeline.KINDS else None)
    context = dict(
        user=user,
        directory=directory,
        record=record,
        patient=record.patient,
        days=timeline.by_day(shown),
        sources=timeline.members_of(every),
        member=member,
        kind=kind,
        shown=len(shown),
        total=len(every),
        emergency=emergency,
        consent=_sharing(gate, caller, record),
        request_sent=bool(request.query_params.get("requested")),
        consent_recorded=request.query_params.get("consent") == "recorded",
        members_for_desk=_members_for_desk(directory, record, caller),
    )
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "timeline":
        return render(request, "patients/_timeline.html", **context)
    return render(
        request,
        "patients/timeline.html",
        problems=summary.active_problems(record.resources),
        medications=summary.current_medications(record.resources),
        allergies=summary.allergies(record.resources),
        **context,
    )

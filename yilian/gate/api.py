"""OAuth2 token endpoint: POST /auth/token (form-encoded, RFC 6749), and POST /auth/revoke."""

from __future__ import annotations

import time

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from yilian.audit import hooks as audit_hooks
from yilian.fhir.outcomes import FhirError
from yilian.gate import tokens

router = APIRouter(prefix="/auth", tags=["auth"])


def _oauth_error(code: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


@router.post("/token")
async def token(
    request: Request,
    grant_type: str = Form(...),
    username: str = Form(""),
    password: str = Form(""),
    client_id: str = Form(""),
    client_secret: str = Form(""),
    scope: str = Form(""),
) -> JSONResponse:
    """Issue a bearer token: grant_type=password (people) or client_credentials (member systems)."""
    if grant_type == "password":
        who, secret = username, password
    elif grant_type == "client_credentials":
        who, secret = client_id, client_secret
    else:
        return _oauth_error("unsupported_grant_type", "use password or client_credentials")
    gate = request.app.state.gate
    try:
        user = None
        try:
            user = await run_in_threadpool(tokens.check_password, gate.engine, who, secret)
        finally:  # every sign-in attempt is audited, refused ones too
            await run_in_threadpool(audit_hooks.login, gate, user, who, user is not None, grant_type)
        minutes = gate.settings.token_minutes
        issued, granted, expires = await run_in_threadpool(tokens.issue, gate.engine, user, scope, minutes)
    except FhirError as err:
        code = "invalid_grant" if err.status == 401 else "invalid_scope"
        return _oauth_error(code, str(err), 400 if code == "invalid_scope" else 401)
    return JSONResponse(
        {
            "access_token": issued,
            "token_type": "Bearer",
            "scope": " ".join(sorted(granted)),
            "expires_in": int(expires - time.time()),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.post("/revoke")
async def revoke(request: Request, token: str = Form(...)) -> JSONResponse:
    await run_in_threadpool(tokens.revoke, request.app.state.gate.engine, token)
    return JSONResponse({})

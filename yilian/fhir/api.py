"""The FHIR REST API on /fhir: a thin HTTP shell around the router."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from yilian.audit import hooks as audit_hooks
from yilian.fhir.messages import FhirRequest, FhirResponse, parse_body
from yilian.fhir.outcomes import FhirError, Problem, operation_outcome
from yilian.fhir.router import handle
from yilian.gate.users import authenticate

FHIR_JSON = "application/fhir+json"
log = logging.getLogger(__name__)
router = APIRouter()


def to_http(response: FhirResponse) -> Response:
    body = response.json_bytes()
    media = FHIR_JSON if body else None
    return Response(body, status_code=response.status, headers=response.headers, media_type=media)


async def _read_body(request: Request) -> dict | None:
    raw = await request.body()
    if not raw:
        return None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode()))
    return parse_body(raw)


@router.api_route("/fhir/{path:path}", methods=["GET", "HEAD", "POST", "PUT", "DELETE"])
async def fhir_endpoint(path: str, request: Request) -> Response:
    app = request.app
    fhir_request = FhirRequest(
        request.method,
        path,
        list(parse_qsl(request.url.query, keep_blank_values=True)),
        await _read_body(request),
        {k.lower(): v for k, v in request.headers.items()},
    )
    gate = app.state.gate

    def run() -> FhirResponse:
        caller = None
        if path.strip("/") != "metadata":
            try:
                caller = authenticate(
                    gate.engine, request.headers.get("authorization"), request.headers.get("x-purpose-of-use")
                )
            except FhirError as err:
                if err.status == 401:  # a missing or rejected token is a refused sign-in: audited
                    audit_hooks.login(gate, None, "bearer", False, "api")
                raise
        return handle(gate, caller, fhir_request)

    from starlette.concurrency import run_in_threadpool

    return to_http(await run_in_threadpool(run))


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the API as an OperationOutcome with the right status."""

    @app.exception_handler(FhirError)
    async def _fhir_error(_request: Request, err: FhirError) -> Response:
        return to_http(FhirResponse(err.status, err.outcome()))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, err: Exception) -> Response:
        log.exception("unexpected error")
        outcome = operation_outcome([Problem(f"Internal error: {type(err).__name__}", "exception")])
        return to_http(FhirResponse(500, outcome))

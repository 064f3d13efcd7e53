"""The HTTP side of bulk export that is not a FHIR interaction: polling a job's status, cancelling it and
downloading its files. Only the user who kicked a job off can see it; to anyone else it does not exist."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from yilian.export import jobs
from yilian.export.jobs import Job
from yilian.export.runner import Exporter, completed_file
from yilian.fhir.api import to_http
from yilian.fhir.messages import FhirResponse
from yilian.fhir.outcomes import Problem, not_found, operation_outcome
from yilian.gate.caller import Caller
from yilian.gate.users import authenticate
from yilian.store import dialect
from yilian.store.search.dates import instant

router = APIRouter()
NDJSON = "application/fhir+ndjson"


def _caller(request: Request) -> Caller:
    gate = request.app.state.gate
    headers = request.headers
    return authenticate(gate.engine, headers.get("authorization"), headers.get("x-purpose-of-use"))


@router.get("/fhir/$export-status/{job_id}")
async def status(job_id: str, request: Request) -> Response:
    def run() -> Response:
        caller, gate = _caller(request), request.app.state.gate
        with gate.engine.connect() as conn:
            job = jobs.get(conn, job_id, caller)
        return status_response(job, gate.settings.base_url.rstrip("/"))

    return await run_in_threadpool(run)


@router.delete("/fhir/$export-status/{job_id}")
async def cancel(job_id: str, request: Request) -> Response:
    def run() -> Response:
        caller, gate = _caller(request), request.app.state.gate
        with gate.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            job = jobs.cancel(conn, job_id, caller)
        note = Problem(f"Export {job.id} is {job.status}", "informational", severity="information")
        return to_http(FhirResponse(202, operation_outcome([note])))

    return await run_in_threadpool(run)


@router.get("/fhir/$export-file/{job_id}/{name}")
async def download(job_id: str, name: str, request: Request) -> Response:
    def run() -> Response:
        caller, gate = _caller(request), request.app.state.gate
        with gate.engine.connect() as conn:
            job = jobs.get(conn, job_id, caller)
        return FileResponse(completed_file(gate.settings, job, name), media_type=NDJSON)

    return await run_in_threadpool(run)


def status_response(job: Job, base: str) -> Response:
    if job.status in jobs.RUNNABLE:
        headers = {"X-Progress": f"{job.status}: {job.written} resources written", "Retry-After": "1"}
        return Response(status_code=202, headers=headers)
    if job.status == "completed":
        return to_http(FhirResponse(200, manifest(job, base)))
    if job.status == "cancelled":
        raise not_found(f"Export {job.id} was cancelled")
    problem = Problem(job.error or "The export failed", "exception")
    return to_http(FhirResponse(500, operation_outcome([problem])))


def manifest(job: Job, base: str) -> dict:
    """The Bulk Data completion manifest: one NDJSON file per resource type, fetched with the same token."""
    return {
        "transactionTime": instant(job.transaction_time or job.created),
        "request": f"{base}/{job.request}",
        "requiresAccessToken": True,
        "output": [
            {"type": t, "url": f"{base}/$export-file/{job.id}/{t}.ndjson", "count": n} for t, n in job.output
        ],
        "error": [],
    }


def install(app: FastAPI) -> None:
    """The routes (before the FHIR catch-all) and the exporter thread, run for the server's lifetime."""
    app.include_router(router)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI):  # noqa: ANN202
        exporter = Exporter(a.state.gate)
        exporter.start()
        try:
            async with previous(a) as state:
                yield state
        finally:
            await run_in_threadpool(exporter.stop)

    app.router.lifespan_context = lifespan

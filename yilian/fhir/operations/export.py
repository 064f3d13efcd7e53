"""Bulk Data kick-off: `$export` (system), `Patient/$export`, `Group/[id]/$export` (FHIR Bulk Data Access
2.0). The request is answered at once with 202 and a status URL; the server's exporter writes NDJSON files
in the background, as the caller (yilian/export)."""

from __future__ import annotations

from urllib.parse import urlencode

from yilian.export import jobs
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import operation
from yilian.fhir.outcomes import Problem, bad_request, not_supported, operation_outcome
from yilian.gate.repository import GatedRepository
from yilian.store import dialect


@operation("", "$export", instance=False)
def system_export(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    return _kick_off(repo, req, "system")


@operation("Patient", "$export", instance=False)
def patient_export(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    return _kick_off(repo, req, "patient")


@operation("Group", "$export", instance=True)
def group_export(repo: GatedRepository, req: FhirRequest, group_id: str) -> FhirResponse:
    repo.read("Group", group_id)  # a Group the caller cannot see is not known (404), as on a read
    return _kick_off(repo, req, "group", group_id)


def _kick_off(repo: GatedRepository, req: FhirRequest, level: str, group_id: str | None = None):  # noqa: ANN202
    if req.method != "GET":
        raise not_supported("Kick off a bulk export with GET (POST with Parameters is not supported)")
    if "respond-async" not in (req.header("prefer") or ""):
        raise bad_request("A bulk export runs in the background: send the header 'Prefer: respond-async'")
    url = req.path.strip("/") + (f"?{urlencode(req.query)}" if req.query else "")
    engine = repo.conn.engine  # the job is recorded in a write transaction of its own
    with engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        job_id = jobs.kick_off(conn, repo.caller, url, level, req.query, group_id)
    status_url = f"{repo.settings.base_url.rstrip('/')}/$export-status/{job_id}"
    note = Problem(f"Export accepted; poll {status_url}", "informational", severity="information")
    accepted = operation_outcome([note])
    return FhirResponse(202, accepted, {"Content-Location": status_url})

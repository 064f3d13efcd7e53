"""`yilian export OUT`: a bulk export into a folder of NDJSON files, through the gate like the API's $export
(as the local operator, or as a named user with their purpose of use), with a progress bar and a summary."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate
from yilian.export.runner import run_job
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate.caller import Caller, operator
from yilian.gate.users import user_by_id


def export(
    out: Path = typer.Argument(
        ..., help="Folder for the NDJSON files (created if missing; no .ndjson in it)."
    ),
    types: str = typer.Option("", "--type", help="Resource types, comma-separated (default: every type)."),
    since: str = typer.Option("", help="Only resources changed since this FHIR instant."),
    patients: bool = typer.Option(False, "--patients", help="Only Patient compartments (Patient/$export)."),
    group: str = typer.Option("", help="Only the compartments of this Group's member Patients."),
    user: str = typer.Option("", help="Export as this user (their roles, member and consents apply)."),
    purpose: str = typer.Option("", help="The user's purpose of use (default: their roles' first)."),
) -> None:
    """Export what a caller may see as FHIR NDJSON (one file per resource type)."""
    if out.exists() and any(out.glob("*.ndjson")):
        raise fail(f"{out} already holds .ndjson files; choose an empty folder")
    query = [(k, v) for k, v in (("_type", types), ("_since", since)) if v]
    path = f"Group/{group}/$export" if group else ("Patient/$export" if patients else "$export")
    g = gate()
    try:
        request = FhirRequest("GET", path, query, None, {"prefer": "respond-async"})
        accepted = handle(g, _caller(user, purpose), request)
    except FhirError as err:
        raise fail(err) from None
    job_id = accepted.headers["Content-Location"].rsplit("/", 1)[1]
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]导出 Exporting"),
        TextColumn("{task.fields[n]:,} resources"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("export", total=None, n=0)
        job = run_job(g, job_id, out, on_page=lambda n: progress.update(task, n=n))
    if job is None or job.status != "completed":
        why = f"{job.status}: {job.error or ''}" if job else "was claimed by another runner"
        raise fail(f"Export {job_id} {why}")
    table = Table(title=f"导出结果 Export {job_id} → {out}")
    table.add_column("resource type")
    table.add_column("resources", justify="right")
    for rtype, n in job.output:
        table.add_row(rtype, f"{n:,}")
    console.print(table)
    console.print(f"{job.written:,} resources in {len(job.output)} files; every page is in the audit trail")


def _caller(user_id: str, purpose: str) -> Caller:
    if not user_id:
        return operator()
    user = user_by_id(gate().engine, user_id)
    if user is None:
        raise fail(f"No user {user_id!r} (see `yilian users list`)")
    return user.caller(purpose or None)

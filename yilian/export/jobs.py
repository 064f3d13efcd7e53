"""Export jobs as records: kick-off (parameters checked, the caller kept), status, cancellation.

A job runs later as the caller who asked, with the roles, member, purpose of use and SMART scopes of that
request: the export shows exactly what that caller's reads would show, no more.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, select, update

from yilian.export.tables import export_jobs
from yilian.fhir.outcomes import bad_request, not_found, not_supported
from yilian.fhir.validation import is_known_resource_type
from yilian.gate.caller import Caller
from yilian.store.search.dates import date_range

J = export_jobs.c
NDJSON_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
UNSUPPORTED = ("_typeFilter", "_elements", "includeAssociatedData", "patient", "_outputPeriod")
RUNNABLE = ("accepted", "running")


@dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    caller: Caller
    request: str
    level: str  # system, patient or group
    group_id: str | None
    types: tuple[str, ...] | None
    since: float | None
    status: str
    written: int
    created: float
    transaction_time: float | None
    finished: float | None
    error: str | None
    output: list[tuple[str, int]]


def parse_kickoff(query: list[tuple[str, str]]) -> tuple[tuple[str, ...] | None, float | None]:
    """(_type, _since) of a kick-off request; anything else we cannot honour is refused, not ignored."""
    types: list[str] = []
    since = None
    for name, value in query:
        if name == "_outputFormat":
            if value not in NDJSON_FORMATS:
                raise bad_request(f"_outputFormat {value!r} is not offered; use application/fhir+ndjson")
        elif name == "_type":
            for t in filter(None, (v.strip() for v in value.split(","))):
                if not is_known_resource_type(t):
                    raise bad_request(f"_type: '{t}' is not a FHIR R4 resource type")
                types.append(t)
        elif name == "_since":
            span = date_range(value)
            if span is None:
                raise bad_request(f"_since {value!r} is not a FHIR instant (e.g. 2026-01-01T00:00:00+08:00)")
            since = span[0]
        elif name in UNSUPPORTED:
            raise not_supported(f"The export parameter {name} is not supported")
        else:
            raise bad_request(f"Unknown export parameter {name!r}")
    return (tuple(dict.fromkeys(types)) or None), since


def kick_off(
    conn: Connection,
    caller: Caller,
    request_url: str,
    level: str,
    query: list[tuple[str, str]],
    group_id: str | None = None,
) -> str:
    """Record an accepted job; the exporter runs it. Returns its id."""
    types, since = parse_kickoff(query)
    job_id = str(uuid.uuid4())
    conn.execute(
        export_jobs.insert().values(
            id=job_id,
            user_id=caller.user_id,
            caller=orjson.dumps(_caller_json(caller)).decode(),
            request=request_url,
            level=level,
            group_id=group_id,
            types=orjson.dumps(list(types)).decode() if types else None,
            since=since,
            status="accepted",
            written=0,
            created=time.time(),
        )
    )
    return job_id


def get(conn: Connection, job_id: str, caller: Caller | None = None) -> Job:
    """The job, for its owner only: to anyone else it does not exist."""
    row = conn.execute(select(export_jobs).where(J.id == job_id)).first()
    if row is None or (caller is not None and row.user_id != caller.user_id):
        raise not_found(f"No export job {job_id}")
    return _job(row)


def of_user(conn: Connection, user_id: str, limit: int = 20) -> list[Job]:
    """A user's own jobs, newest first."""
    newest = select(export_jobs).where(J.user_id == user_id).order_by(J.created.desc()).limit(limit)
    return [_job(r) for r in conn.execute(newest)]


def runnable(conn: Connection) -> list[str]:
    """Jobs waiting to run, oldest first (a running one was interrupted by a stop and runs again)."""
    rows = conn.execute(select(J.id).where(J.status.in_(RUNNABLE)).order_by(J.created))
    return [r.id for r in rows]


def set_status(conn: Connection, job_id: str, status: str, **values) -> None:  # noqa: ANN003
    conn.execute(update(export_jobs).where(J.id == job_id).values(status=status, **values))


def set_written(conn: Connection, job_id: str, written: int) -> None:
    conn.execute(update(export_jobs).where(J.id == job_id).values(written=written))


def cancel(conn: Connection, job_id: str, caller: Caller) -> Job:
    job = get(conn, job_id, caller)
    if job.status in RUNNABLE:
        set_status(conn, job_id, "cancelled", finished=time.time())
    return get(conn, job_id, caller)


def _caller_json(c: Caller) -> dict:
    return {
        "user_id": c.user_id,
        "name": c.name,
        "organization": c.organization,
        "roles": sorted(c.roles),
        "purpose": c.purpose,
        "patient_id": c.patient_id,
        "scopes": sorted(c.scopes) if c.scopes is not None else None,
    }


def _caller(data: dict) -> Caller:
    scopes = data.get("scopes")
    return Caller(
        data["user_id"],
        data["name"],
        data.get("organization"),
        frozenset(data.get("roles") or ()),
        data.get("purpose") or "TREAT",
        data.get("patient_id"),
        frozenset(scopes) if scopes is not None else None,
    )


def _job(row) -> Job:  # noqa: ANN001 - a Row
    return Job(
        row.id,
        row.user_id,
        _caller(orjson.loads(row.caller)),
        row.request,
        row.level,
        row.group_id,
        tuple(orjson.loads(row.types)) if row.types else None,
        row.since,
        row.status,
        row.written,
        row.created,
        row.transaction_time,
        row.finished,
        row.error,
        [(t, n) for t, n in orjson.loads(row.output)] if row.output else [],
    )

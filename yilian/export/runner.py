"""Running export jobs: page through what the caller may see, in storage order, into one NDJSON file per
resource type. Every page is read through the gate as the caller who asked (scope, consent, levels,
redaction) and told to the gate's observers, so the audit trail names each exported patient."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

import orjson
from sqlalchemy import Connection, update

from yilian.config import Settings
from yilian.export import jobs
from yilian.export.jobs import Job
from yilian.export.tables import export_jobs
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.outcomes import FhirError, not_found
from yilian.gate.access import Access
from yilian.gate.repository import Gate
from yilian.store import dialect

log = logging.getLogger(__name__)
PAGE = 1000  # resources per gated read (and per audit event)


def export_root(settings: Settings) -> Path:
    """Where job folders live: beside the SQLite database, else ./var/exports."""
    db = settings.sqlite_path()
    return db.parent / "exports" if db is not None else Path("var") / "exports"


def job_folder(settings: Settings, job_id: str) -> Path:
    return export_root(settings) / job_id


def completed_file(settings: Settings, job: Job, name: str) -> Path:
    """The path of one file of a completed job (`Type.ndjson`), or 404: the file a download sends."""
    if job.status != "completed" or name not in {f"{t}.ndjson" for t, _ in job.output}:
        raise not_found(f"Export {job.id} has no file {name}")
    return job_folder(settings, job.id) / name


def run_pending(gate: Gate) -> int:
    """Run every accepted job, oldest first; returns how many ran."""
    with gate.engine.connect() as conn:
        waiting = jobs.runnable(conn)
    return sum(run_job(gate, job_id) is not None for job_id in waiting)


def run_job(
    gate: Gate, job_id: str, folder: Path | None = None, on_page: Callable[[int], None] | None = None
) -> Job | None:
    """Claim and run one accepted job into `folder` (its own folder by default; a given folder must hold no
    files of the same names). None if another runner claimed it first. Failures are recorded on the job,
    not raised."""
    if not _claim(gate, job_id):
        return None
    with gate.engine.connect() as conn:
        job = jobs.get(conn, job_id)
    if folder is None:  # the job's own folder: a job interrupted earlier starts again from nothing
        folder = job_folder(gate.settings, job_id)
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        counts = _export(gate, job, folder, written, on_page)
    except FhirError as err:
        _finish(gate, job_id, "failed", error=str(err))
    except Exception as err:  # noqa: BLE001 - recorded for the client; the server goes on
        log.exception("export %s failed", job_id)
        _finish(gate, job_id, "failed", error=f"Internal error: {type(err).__name__}")
    else:
        if counts is not None:
            _finish(gate, job_id, "completed", output=orjson.dumps(sorted(counts.items())).decode())
    with gate.engine.connect() as conn:
        job = jobs.get(conn, job_id)
    if job.status != "completed":  # failed or cancelled: no partial files are left to be mistaken
        for path in written:
            path.unlink(missing_ok=True)
    return job


def _claim(gate: Gate, job_id: str) -> bool:
    with _writing(gate) as conn:
        claimed = conn.execute(
            update(export_jobs)
            .where(export_jobs.c.id == job_id, export_jobs.c.status == "accepted")
            .values(status="running", transaction_time=time.time(), written=0, error=None)
        )
        return claimed.rowcount == 1


def _export(
    gate: Gate, job: Job, folder: Path, written: list[Path], on_page: Callable[[int], None] | None
) -> Counter | None:
    caller, request = job.caller, _request_of(job)
    patients = _group_members(gate, job) if job.level == "group" else None
    counts: Counter = Counter()
    files: dict[str, object] = {}
    after = 0
    try:
        while True:
            if _cancelled(gate, job.id):
                return None
            with gate.reading(caller) as repo:
                page = repo.export_page(
                    after,
                    PAGE,
                    types=job.types,
                    since=job.since,
                    patients=patients,
                    compartments_only=job.level != "system",
                )
                if not page:
                    break
                repo.note_consents()
                access = Access(caller, request, "export", repo.touched, FhirResponse(200), conn=repo.conn)
                access.notes = repo.notes
                gate.notify(access)  # audited before the data leaves the gate
            for stored in page:
                out = files.get(stored.type)
                if out is None:
                    written.append(folder / f"{stored.type}.ndjson")
                    out = files[stored.type] = written[-1].open("wb")
                out.write(stored.content + b"\n")  # type: ignore[attr-defined]
                counts[stored.type] += 1
            after = page[-1].rid
            with _writing(gate) as conn:
                jobs.set_written(conn, job.id, sum(counts.values()))
            if on_page:
                on_page(sum(counts.values()))
    finally:
        for out in files.values():
            out.close()  # type: ignore[attr-defined]
    return counts


def _group_members(gate: Gate, job: Job) -> list[str]:
    """The Patients a Group names, read through the gate as the caller (an unseen Group is a 404)."""
    with gate.reading(job.caller) as repo:
        group = repo.read("Group", job.group_id or "").resource()
    refs = [m.get("entity", {}).get("reference", "") for m in group.get("member", [])]
    return [r.split("/", 1)[1] for r in refs if r.startswith("Patient/")]


def _request_of(job: Job) -> FhirRequest:
    path, _, query = job.request.partition("?")
    return FhirRequest("GET", path, parse_qsl(query, keep_blank_values=True))


def _cancelled(gate: Gate, job_id: str) -> bool:
    with gate.engine.connect() as conn:
        return jobs.get(conn, job_id).status == "cancelled"


def _finish(gate: Gate, job_id: str, status: str, **values) -> None:  # noqa: ANN003
    with _writing(gate) as conn:
        current = jobs.get(conn, job_id).status
        if current == "running":  # a cancellation stands
            jobs.set_status(conn, job_id, status, finished=time.time(), **values)


@contextmanager
def _writing(gate: Gate) -> Iterator[Connection]:
    """A short write transaction of the exporter's own (job bookkeeping)."""
    with gate.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
        yield conn


class Exporter:
    """The server's exporter: a background thread that runs accepted jobs one after another."""

    def __init__(self, gate: Gate, poll_seconds: float = 0.5) -> None:
        self.gate = gate
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with _writing(self.gate) as conn:  # jobs a stop interrupted run again from the start
            conn.execute(
                update(export_jobs).where(export_jobs.c.status == "running").values(status="accepted")
            )
        self.thread = threading.Thread(target=self._run, name="exporter", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                run_pending(self.gate)
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("the exporter failed; will retry")
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

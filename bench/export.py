"""Bulk export of the Synthea store: resources/s through the gate (`yilian export`'s path: gated pages of
1,000, redaction, an audit event per page, NDJSON files) for the administrator and for a clinician of
another member reading by consent, beside a raw baseline that selects the same JSON and writes the same
files with no gate, no audit, in the same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.common import machine, main_on_synthea
from bench.everything import ADMIN, READER, _patients_and_codes, grant_consents
from yilian.export.runner import run_job
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.repository import Gate


def export_ours(gate: Gate, caller, path: str = "$export") -> tuple[int, float]:  # noqa: ANN001
    started = time.perf_counter()
    accepted = handle(gate, caller, FhirRequest("GET", path, [], None, {"prefer": "respond-async"}))
    job_id = accepted.headers["Content-Location"].rsplit("/", 1)[1]
    job = run_job(gate, job_id, Path(tempfile.mkdtemp(prefix="yilian-export-")))
    assert job is not None and job.status == "completed", job
    return job.written, time.perf_counter() - started


def export_raw(gate: Gate) -> tuple[int, float]:
    """The same JSON straight from the table into one file per type: the limit an exporter could reach."""
    folder = Path(tempfile.mkdtemp(prefix="yilian-export-raw-"))
    started, n, files = time.perf_counter(), 0, {}
    with gate.engine.connect() as conn:
        for rtype, content in conn.execute(text("SELECT type, content FROM resources WHERE deleted = false")):
            out = files.get(rtype) or files.setdefault(rtype, (folder / f"{rtype}.ndjson").open("wb"))
            out.write(content + b"\n")
            n += 1
    for out in files.values():
        out.close()
    return n, time.perf_counter() - started


def measure(gate: Gate) -> dict:
    grant_consents(gate, [pid for pid, _ in _patients_and_codes(gate)])
    raw_n, raw_s = export_raw(gate)
    admin_n, admin_s = export_ours(gate, ADMIN)
    reader_n, reader_s = export_ours(gate, READER, "Patient/$export")
    return {
        "benchmark": "export",
        "database": gate.engine.dialect.name,
        "raw_resources": raw_n,
        "raw_resources_per_s": round(raw_n / raw_s),
        "admin_resources": admin_n,
        "admin_resources_per_s": round(admin_n / admin_s),
        "admin_vs_raw": round((admin_n / admin_s) / (raw_n / raw_s), 3),
        "consented_clinician_resources": reader_n,
        "consented_clinician_resources_per_s": round(reader_n / reader_s),
        "machine": machine(),
    }


def main() -> None:
    main_on_synthea(measure, __doc__)


if __name__ == "__main__":
    main()

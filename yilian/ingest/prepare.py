"""From a stored message to what the router will write: parse, map, plan. Pure (no database), so it runs
in worker processes for big files and the benchmark, as yilian.ingest.bulk does for FHIR files.

HL7 v2 transactions are planned here too (validation, index rows; conditional creates and updates are
matched when the writer applies the plan); those with conditional references are planned by the router
in the writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from yilian.fhir.outcomes import FhirError
from yilian.fhir.transaction_plan import NeedsDatabase, Plan, plan_transaction
from yilian.gate.caller import Caller
from yilian.ingest.codes import CodeMap, Table, Unmapped
from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.decode import decode
from yilian.ingest.hl7v2.mapper import map_message
from yilian.ingest.hl7v2.message import Message
from yilian.ingest.store import chunks
from yilian.ingest.workers import preparing_pool, warm_up

LOCAL_ZONE = "+08:00"


def member_system(member_id: str) -> Caller:
    """The member's own feeding system: what every feed of that member writes as."""
    return Caller(
        f"system:{member_id}", f"{member_id} HIS", member_id, frozenset({"member-system"}), "HOPERAT"
    )


@dataclass
class Work:
    """One stored message to prepare (what a worker needs of it)."""

    id: int
    member: str | None
    format: str
    kind: str
    payload: bytes
    charset: str | None
    mapping: str | None = None  # the member's CSV mapping (TOML), for CSV rows


@dataclass
class Prepared:
    id: int
    member: str | None
    bundle: dict | None = None
    plan: Plan | None = None
    error: str | None = None
    code: str | None = None  # HL7 table 0357 error code, for the NAK
    location: str | None = None
    event_at: float | None = None
    unmapped: list[Unmapped] = field(default_factory=list)
    merges: list[dict] = field(default_factory=list)
    entries: int = 0


def prepare(work: Work, tables: dict[str, Table], *, plan: bool = False) -> Prepared:
    out = Prepared(work.id, work.member)
    try:
        bundle, event_at, unmapped, merges = _map(work, CodeMap(work.member, tables))
    except IngestError as err:
        out.error, out.code, out.location = str(err), err.code, err.location
        return out
    out.bundle, out.unmapped, out.merges = bundle, unmapped, merges
    out.event_at = seconds(event_at)
    out.entries = len(bundle["entry"])
    if plan and work.member and not merges:
        try:
            out.plan = plan_transaction(bundle["entry"], member_system(work.member), resolver=None)
            out.bundle = None
        except NeedsDatabase:
            # Planning rewrites references in place and stopped part-way: the router plans the Bundle
            # again in the writer, from entries as the mapper made them (not from half-planned ones,
            # whose references would name provisional ids nothing is stored under).
            out.bundle = _map(work, CodeMap(work.member, tables))[0]
        except FhirError as err:
            out.error, out.bundle = str(err), None
    return out


def _map(work: Work, codes: CodeMap) -> tuple[dict, str | None, list[Unmapped], list[dict]]:
    if work.format == "hl7v2":
        msg = Message(decode(work.payload, work.charset).text)
        mapped = map_message(msg, work.member, codes)
        return mapped.bundle, mapped.event_at, mapped.unmapped, mapped.merges
    if work.format == "csv":
        from yilian.ingest.csv.mapper import map_rows

        mapped = map_rows(work.payload, work.kind, work.member, work.mapping, codes)
        return mapped.bundle, mapped.event_at, mapped.unmapped, []
    if work.format == "fhir":
        from yilian.ingest.fhir_files import Source, to_bundles

        bundles = list(to_bundles(Source(work.kind, work.payload)))
        if len(bundles) != 1:
            raise IngestError("A FHIR message must hold one Bundle or resource")
        return bundles[0], None, [], []
    raise IngestError(f"Unknown feed format {work.format!r}")


def seconds(when: str | None) -> float | None:
    """A FHIR date or dateTime as POSIX seconds (a bare date is local midnight)."""
    if not when:
        return None
    if "T" in when:
        text = when.replace("Z", "+00:00")
    else:
        day = when[:10] if len(when) >= 10 else (when + "-01-01")[:10]
        text = f"{day}T00:00:00{LOCAL_ZONE}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


CHUNK = 100  # messages a preparing process takes at a time (small: the writer waits for the first chunk)


def preparing_processes(requested: int) -> int:
    """How many processes prepare ahead of the writer: as many as asked, up to one per core, and none on
    one core. They run niced, so the writer keeps its share of the cores (2 cores, ORU messages, 6
    alternated pairs once the writer's collector was kept quiet: two processes faster in 5, +16% on
    average; before that, a second one measured no better)."""
    cores = os.cpu_count() or 1
    return max(0, min(requested, cores if cores > 1 else 0))


def prepare_all(
    works: Iterable[Work], tables: dict[str | None, dict[str, Table]], workers: int = 0, count: int = 0
) -> Iterator[Prepared]:
    """Prepare every message, in up to `workers` processes when there are `count` or so (results in the
    order given). Every work is taken from `works` before the first result is given back: a pipeline
    that stores messages as it hands them on has stored them all before it writes any."""
    workers = preparing_processes(workers)
    if workers <= 0 or count < 50:
        for w in list(works):
            yield prepare(w, tables.get(w.member, {}), plan=True)
        return
    warm_up()
    with preparing_pool(workers, _keep, (tables,)) as pool:
        # Submitted chunk by chunk as `works` yields them, so the processes start on the first at once.
        futures = [pool.submit(_prepare_chunk, chunk) for chunk in chunks(works, CHUNK)]
        for future in futures:
            yield from future.result()


_tables: dict[str | None, dict[str, Table]] = {}  # in a preparing process: every member's code tables


def _keep(tables: dict[str | None, dict[str, Table]]) -> None:
    _tables.update(tables)  # handed over once per process, not with every chunk


def _prepare_chunk(works: Sequence[Work]) -> list[Prepared]:
    return [prepare(w, _tables.get(w.member, {}), plan=True) for w in works]

"""The ingest pipeline: store, prepare, write, record. Every feed (MLLP, HL7 v2 files, CSV exports, FHIR
files) and every replay of a dead letter goes through `ingest` or `replay`.

1. store: each message is committed to the message store before anything else (nothing is lost);
   a copy of a message already processed is stored as a duplicate and not processed again;
2. prepare: parse and map to a transaction Bundle (prepare.py; in worker processes for big batches);
3. write: the Bundles of one member go through the router together, as that member's system, with
   `handle_group` (one database transaction, each Bundle all-or-nothing in its own savepoint);
4. record: each message is marked processed, or rejected with its error (the dead-letter store).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle, handle_group
from yilian.gate.caller import operator
from yilian.gate.repository import Gate
from yilian.ingest import store
from yilian.ingest.codes import Table
from yilian.ingest.errors import UNKNOWN_KEY
from yilian.ingest.kept import Kept
from yilian.ingest.prepare import Prepared, Work, member_system, prepare_all
from yilian.ingest.store import DUPLICATE, PROCESSED, REJECTED, Incoming, Outcome
from yilian.ingest.workers import between_groups, quiet_gc

GROUP_ENTRIES = 4000  # entries written in one database transaction
INTAKE_CHUNK = 500  # messages stored in one transaction
BIG = 100  # messages at once that make it worth keeping the garbage collector quiet (workers.quiet_gc)


@dataclass
class Result:
    """What became of one message: what the MLLP listener acknowledges and the CLI counts."""

    id: int
    status: str  # processed | rejected | duplicate
    error: str | None = None
    duplicate_of: int | None = None
    resources: int = 0
    code: str | None = None  # HL7 table 0357 code of a refusal (for the NAK's ERR segment)
    location: str | None = None


def ingest(
    gate: Gate,
    items: Sequence[Incoming],
    *,
    workers: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> list[Result]:
    """Store, process and record messages; returns one Result per item, in order."""
    stored: list[store.Stored] = []

    def fresh() -> Iterator[Work]:
        # Stored a chunk at a time, each chunk handed on as soon as it is committed: preparing processes
        # start on the first while the rest are stored. Every message is still stored before any is
        # written (prepare_all takes all of them before it gives back the first).
        seen: dict[tuple, int] = {}
        for part in store.chunks(items, INTAKE_CHUNK):
            chunk = store.store_incoming(gate.engine, part, seen)
            stored.extend(chunk)
            yield from (_work(gate, s.id, s.incoming) for s in chunk if s.duplicate_of is None)

    members = {item.member for item in items}
    with quiet_gc() if len(items) >= BIG else nullcontext():
        processed = {r.id: r for r in _process(gate, fresh(), len(items), members, workers, on_progress)}
    duplicates = [s for s in stored if s.duplicate_of is not None]
    if on_progress and duplicates:
        on_progress(len(duplicates))
    return [processed.get(s.id) or Result(s.id, DUPLICATE, duplicate_of=s.duplicate_of) for s in stored]


def replay(gate: Gate, ids: Sequence[int] | None = None, *, member: str | None = None) -> list[Result]:
    """Process stored messages again: the given ones, or every dead letter (and any message a crash left
    unprocessed) when no ids are given."""
    if ids is None:
        rows = store.list_messages(
            gate.engine, status=(REJECTED, store.RECEIVED), member=member, limit=100_000
        )
    else:
        rows = [r for r in store.list_messages(gate.engine, ids=ids, limit=len(ids)) if r.status != DUPLICATE]
    works = [_work(gate, r.id, r.incoming()) for r in rows]
    return list(_process(gate, works, len(works), {w.member for w in works}, 0, None))


def _work(gate: Gate, message_id: int, item: Incoming) -> Work:
    mapping = store.load_mapping(gate.engine, item.member) if item.format == "csv" else None
    return Work(message_id, item.member, item.format, item.kind, item.payload, item.charset, mapping)


def _process(
    gate: Gate,
    works: Iterable[Work],
    count: int,
    members: set[str | None],
    workers: int,
    on_progress: Callable[[int], None] | None,
) -> list[Result]:
    """Prepare and write `works` (about `count` of them, from `members`), then record each outcome."""
    known = _known_members(gate, members)
    tables: dict[str | None, dict[str, Table]] = {
        m: store.load_code_map(gate.engine, m).tables for m in members if m in known
    }
    outcomes: list[Outcome] = []
    codes: dict[int, tuple[str | None, str | None]] = {}

    pending: dict[str | None, list[Prepared]] = defaultdict(list)
    size = 0
    for p in prepare_all(_from_members(works, known, outcomes, codes), tables, workers, count):
        if p.error is not None:
            outcomes.append(Outcome(p.id, REJECTED, p.error))
            codes[p.id] = (p.code, p.location)
            continue
        pending[p.member].append(p)
        size += p.entries
        if size >= GROUP_ENTRIES:
            outcomes += _write_all(gate, pending, on_progress)
            size = 0
    outcomes += _write_all(gate, pending, on_progress)
    store.record_outcomes(gate.engine, outcomes)
    return [
        Result(o.id, o.status, o.error, None, o.resources, *codes.get(o.id, (None, None))) for o in outcomes
    ]


def _from_members(
    works: Iterable[Work], known: set[str], outcomes: list[Outcome], codes: dict
) -> Iterator[Work]:
    """The works whose sender is a member; the others are refused (into `outcomes` and `codes`)."""
    for w in works:
        if w.member in known:
            yield w
            continue
        outcomes.append(
            Outcome(
                w.id,
                REJECTED,
                f"The sender {w.member or '(unnamed)'} is not a member of the alliance: "
                "name a member with --member, or send its Organization id in MSH-4",
            )
        )
        codes[w.id] = (UNKNOWN_KEY, "MSH-4")


def _write_all(gate: Gate, pending: dict, on_progress: Callable[[int], None] | None) -> list[Outcome]:
    out: list[Outcome] = []
    for member, items in pending.items():
        out += write(gate, member, items)
        if on_progress:
            on_progress(len(items))
    pending.clear()
    between_groups()
    return out


def write(gate: Gate, member: str, items: list[Prepared]) -> list[Outcome]:
    """One member's prepared messages through the router in one transaction (a savepoint each)."""
    caller = member_system(member)
    outcomes: list[Outcome] = []
    requests, kept = [], []
    for p in items:
        try:
            bundle = _resolve_merges(gate, caller, p) if p.merges else p.bundle
        except FhirError as err:
            outcomes.append(Outcome(p.id, REJECTED, str(err)))
            continue
        requests.append(
            FhirRequest("POST", "", plan=p.plan) if p.plan else FhirRequest("POST", "", body=bundle)
        )
        kept.append(p)
    for p, result in zip(kept, handle_group(gate, caller, requests) if requests else [], strict=True):
        if isinstance(result, FhirError):
            outcomes.append(Outcome(p.id, REJECTED, _error_text(result), event_at=p.event_at))
        else:
            outcomes.append(Outcome(p.id, PROCESSED, None, _count(result), p.event_at, p.unmapped))
    return outcomes


def _count(response: FhirResponse) -> int:
    return len((response.body or {}).get("entry", []))


def _error_text(err: FhirError) -> str:
    parts = [f"{p.message}" + (f" (at {p.location})" if p.location else "") for p in err.problems[:5]]
    return "; ".join(parts) or str(err)


def _resolve_merges(gate: Gate, caller, p: Prepared) -> dict:  # noqa: ANN001 - a Caller
    """ADT^A40: retire the prior Patient (read through the router, so nothing of it is lost) and link
    both ways to the survivor."""
    from yilian.fhir.outcomes import bad_request
    from yilian.ingest.bundle import identifier_query

    bundle = copy.deepcopy(p.bundle)
    for merge in p.merges:
        prior_id = merge["prior"]
        found = handle(
            gate,
            caller,
            FhirRequest("GET", "Patient", query=[tuple(identifier_query(prior_id).split("=", 1))]),
        )
        matches = [e["resource"] for e in (found.resource() or {}).get("entry", [])]
        if not matches:
            raise bad_request(
                f"MRG-1 {prior_id['value']} names no patient of this member: nothing to merge (send the "
                "prior registration first, or correct MRG-1)"
            )
        prior = matches[0]
        survivor = merge["survivor"]["reference"]
        prior["active"] = False
        prior["link"] = [{"other": {"reference": survivor}, "type": "replaced-by"}]
        for entry in bundle["entry"]:
            if entry["fullUrl"] == survivor:
                entry["resource"]["link"] = [
                    {"other": {"reference": f"Patient/{prior['id']}"}, "type": "replaces"}
                ]
        prior.pop("meta", None)
        bundle["entry"].append(
            {"resource": prior, "request": {"method": "PUT", "url": f"Patient/{prior['id']}"}}
        )
    return bundle


MEMBERS_KEPT_S = 30.0  # a member found in the store is taken as known this long without asking again
known_members = Kept(MEMBERS_KEPT_S)  # (a member removed from the alliance is refused within that time)


def _known_members(gate: Gate, members: set[str | None]) -> set[str]:
    """The members among `members` that are Organizations in the store (read through the router, at
    most once per MEMBERS_KEPT_S)."""
    wanted = sorted(m for m in members if m)
    known = {m for m in wanted if known_members.get(gate.engine, m)}
    ask = [m for m in wanted if m not in known]
    if not ask:
        return known
    found = handle(
        gate,
        operator(),
        FhirRequest("GET", "Organization", query=[("_id", ",".join(ask)), ("_count", "1000")]),
    )
    for entry in (found.resource() or {}).get("entry", []):
        member = entry["resource"]["id"]
        known_members.put(gate.engine, member, True)
        known.add(member)
    return known

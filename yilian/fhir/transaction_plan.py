"""Planning a transaction Bundle: everything that needs no database, so bulk loaders can do it in
worker processes while the one writer stores the previous Bundle.

A plan parses the entries, gives every POST a provisional id (a conditional create's match is found later,
in the database, and references are then moved to it), rewrites `urn:uuid:` references, validates every
resource, and prepares the creates (stamped JSON and index rows, column-wise in one PreparedBatch that the
store inserts with one statement per table; a prepared create keeps only its key into the batch, which
keeps plans small to send between processes). Conditional PUT/DELETE are matched when the plan is
applied, as conditional creates are (a conditional PUT has a provisional id till then). Conditional
references need searches: with no database at hand planning stops with NeedsDatabase and the router plans
again inside the transaction, with the repository as the resolver.
"""

from __future__ import annotations

import operator
import re
import time
from dataclasses import dataclass, field, fields
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from yilian.fhir.interactions import check_resource
from yilian.fhir.outcomes import (
    FhirError,
    Problem,
    bad_request,
    invalid_resource,
    multiple_matches,
    too_deep,
)
from yilian.fhir.validation import MetReference, is_known_resource_type, validate
from yilian.gate import policy, writes
from yilian.gate.caller import Caller
from yilian.store.repository import Stored, new_ids
from yilian.store.rows import RESOURCE_COLUMNS, PreparedBatch, member_of

METHODS = ("DELETE", "POST", "PUT", "GET", "HEAD")


class Resolver(Protocol):
    def find_one(self, rtype: str, pairs: list[tuple[str, str]], what: str) -> Stored | None: ...

    def find_all(self, criteria: list[tuple[str, list[tuple[str, str]]]]) -> list[list[Stored]]: ...


Criteria = tuple[str, tuple[tuple[str, str], ...]]  # (resource type, search pairs) of a conditional entry


class NeedsDatabase(Exception):
    """Planning met a conditional reference and has no database to search."""


@dataclass
class Step:
    index: int
    method: str
    rtype: str
    rid_id: str | None
    query: list[tuple[str, str]]
    resource: dict | None
    entry: dict
    condition: list[tuple[str, str]] | None = None  # a POST's ifNoneExist criteria
    key: int | None = None  # a prepared POST: its key in the plan's batch
    existing: Stored | None = None  # what a conditional create matched: nothing to write
    deferred: bool = False  # a conditional PUT/DELETE: its target is looked up when the plan is applied

    def __reduce__(self) -> tuple:
        # Plans travel from loader workers to the writer: pickled as a plain tuple of its fields, a step
        # unpickles about 4 times faster than by default (a state dict, then one setattr per field).
        return Step, _step_fields(self)


_step_fields = operator.attrgetter(*(f.name for f in fields(Step)))  # a step's fields, in order


@dataclass
class Plan:
    steps: list[Step]
    caller: Caller
    now: float = field(default_factory=time.time)
    batch: PreparedBatch = field(default_factory=PreparedBatch)  # the POSTs, ready to store
    # A conditional create's provisional "Type/id" -> the creates whose JSON refers to it (if the create
    # matches, only those need moving to the match).
    mentions: dict[str, list[int]] = field(default_factory=dict)
    # The matches of the conditional entries' criteria, looked up together when the plan is applied.
    found: dict[Criteria, list[Stored]] = field(default_factory=dict)

    def posts(self) -> list[Step]:
        return [s for s in self.steps if s.method == "POST"]

    def look_up(self, resolver: Resolver, criteria: list[Criteria]) -> None:
        """Find the matches of all `criteria` not yet looked up, in one go."""
        wanted = list(dict.fromkeys(c for c in criteria if c not in self.found))
        if wanted:
            hits = resolver.find_all([(rtype, list(pairs)) for rtype, pairs in wanted])
            self.found.update(zip(wanted, hits, strict=True))

    def match(self, criteria: Criteria, what: str) -> Stored | None:
        """The one resource a looked-up criteria matched, or None; two or more is an error (412)."""
        hits = self.found[criteria]
        if len(hits) > 1:
            raise multiple_matches(what)
        return hits[0] if hits else None


def criteria_of(step: Step) -> Criteria | None:
    """The criteria of a conditional entry (ifNoneExist, conditional PUT or DELETE), else None."""
    if step.condition is not None:
        return step.rtype, tuple(step.condition)
    return (step.rtype, tuple(step.query)) if step.deferred else None


def plan_transaction(entries: list, caller: Caller, resolver: Resolver | None = None) -> Plan:
    """Plan a transaction's entries; raises FhirError for a bad Bundle, NeedsDatabase without a resolver
    when a search is needed. The entries' resources are rewritten in place (references, ids, meta), also
    when planning stops with an error: plan again from fresh entries, never from these."""
    plan = Plan([parse_entry(i, e) for i, e in enumerate(entries)], caller)
    refs = _assign_identities(plan.steps)
    provisional = {f"{s.rtype}/{s.rid_id}" for s in plan.steps if s.condition is not None or s.deferred}
    problems: list[Problem] = []
    referred: dict[int, set[str]] = {}  # entry index -> what its resource refers to, when the walk knows
    for step in plan.steps:
        if step.resource is not None:
            problems += _resolve_and_check(step, refs, resolver, referred)
    if problems:
        raise invalid_resource(problems[:200])
    for step in plan.posts():
        writes.before_write(caller, step.resource)
        member = policy.member_for_write(caller, member_of(step.resource))
        try:
            step.key = plan.batch.prepare(
                step.resource, rid_id=step.rid_id, version=1, now=plan.now, member=member
            )
        except FhirError as err:  # the store refused it (outcomes.too_deep): say which entry
            raise too_deep(f"Bundle.entry[{step.index}].resource") from err
        # Applying needs only the batch now: drop the parsed entry (the plan may travel).
        step.resource, step.entry, step.query = None, {}, []
    if provisional:
        plan.mentions = _mentions(plan, provisional, referred)
    return plan


def _mentions(plan: Plan, provisional: set[str], referred: dict[int, set[str]]) -> dict[str, list[int]]:
    """Provisional "Type/id" -> the creates whose JSON refers to it. The validation walk that resolved a
    resource's references said what it refers to (`referred`), also through a reference object the
    resource shares with another (a feed's mapper may build them so; the first resolved it in place);
    when it could not say (contained resources, skipped JSON, a second walk), the stored JSON is read."""
    content_at = RESOURCE_COLUMNS.index("content")
    rows = plan.batch.resources  # in key order: nothing has been dropped yet
    out: dict[str, list[int]] = {}
    for step in plan.posts():
        targets = referred.get(step.index)
        if targets is None:
            targets = {r.decode() for r in _REFERENCE.findall(rows[step.key][content_at])}
        for target in targets & provisional:
            out.setdefault(target, []).append(step.index)
    return out


_REFERENCE = re.compile(rb'"reference":"([^"\\]+)"')  # in the compact JSON the store keeps


def parse_entry(i: int, entry: dict) -> Step:
    where = f"Bundle.entry[{i}]"
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
        raise bad_request("Each entry needs request.method and request.url", location=f"{where}.request")
    method = str(request["method"]).upper()
    if method not in METHODS:
        raise bad_request(f"Unsupported method {method}", location=f"{where}.request.method")
    url = urlsplit(request["url"])
    parts = [p for p in url.path.strip("/").split("/") if p]
    if not parts or not is_known_resource_type(parts[0]):
        raise bad_request(
            f"'{request['url']}' does not name a resource type", location=f"{where}.request.url"
        )
    resource = entry.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise bad_request(f"A {method} entry needs a resource", location=f"{where}.resource")
    rid_id = parts[1] if len(parts) > 1 else None
    query = parse_qsl(url.query) if url.query else []  # most entries have none
    step = Step(i, method, parts[0], rid_id, query, resource, entry)
    if method == "POST" and request.get("ifNoneExist"):
        step.condition = parse_qsl(str(request["ifNoneExist"]).lstrip("?"))
    return step


def _assign_identities(steps: list[Step]) -> dict[str, str]:
    """Give every entry its Type/id (provisional for POSTs and conditional PUTs: applying moves them to
    what their criteria match); map each fullUrl to it."""
    refs: dict[str, str] = {}
    fresh = iter(new_ids(sum(1 for step in steps if step.method in ("POST", "PUT"))))
    for step in steps:
        if step.method == "POST":
            step.rid_id = next(fresh)
        elif step.method in ("PUT", "DELETE") and step.rid_id is None:
            if not step.query:
                where = f"Bundle.entry[{step.index}].request.url"
                raise bad_request(f"{step.method} needs an id or search criteria", location=where)
            step.deferred = True
            step.rid_id = next(fresh) if step.method == "PUT" else None
        if step.method == "PUT":
            step.resource["id"] = step.rid_id
        full_url = step.entry.get("fullUrl")
        if full_url and step.rid_id:
            refs[full_url] = f"{step.rtype}/{step.rid_id}"
    return refs


def _resolve_and_check(
    step: Step, refs: dict[str, str], resolver: Resolver | None, referred: dict[int, set[str]] | None = None
) -> list[Problem]:
    """Resolve the resource's urn: and conditional references, then validate it; returns the problems
    found. Nearly always one walk does both: validation collects the references, and when the resource
    is valid and its local ones all name entries of this Bundle they are rewritten in place (and what it
    refers to goes into `referred`). Otherwise the resource is walked twice, as it always was, for the
    same errors."""
    resource = step.resource
    met: list[MetReference] = []
    if resource.get("resourceType") == step.rtype and not validate(resource, met):
        local = [(holder, check) for holder, check in met if check is None or _is_local(holder["reference"])]
        targets = _local_targets(local, refs)
        if targets is not None:
            for (holder, _check), target in zip(local, targets, strict=True):
                holder["reference"] = target
            if referred is not None and "contained" not in resource:  # (the walk skips contained ones)
                referred[step.index] = {holder["reference"] for holder, _check in met}
            return []
    _rewrite_references(step, refs, resolver)
    try:
        check_resource(resource, step.rtype, f"Bundle.entry[{step.index}].resource.")
    except FhirError as err:
        return err.problems
    return []


def _is_local(reference: str) -> bool:
    """A reference the Bundle resolves: to an entry's fullUrl ("urn:...") or conditional ("?")."""
    return reference.startswith("urn:") or "?" in reference


def _local_targets(local: list[MetReference], refs: dict[str, str]) -> list[str] | None:
    """What the collected references become; None unless each names an entry and stays valid."""
    targets = []
    for holder, check in local:
        if check is None:  # JSON the validator skips: only the full walk looks there
            return None
        target = refs.get(holder["reference"])
        if target is None or not check(target):
            return None
        targets.append(target)
    return targets


def _rewrite_references(step: Step, refs: dict[str, str], resolver: Resolver | None) -> None:
    """Resolve the resource's urn: and conditional references."""
    where = f"Bundle.entry[{step.index}].resource"
    stack: list = [step.resource]  # dicts and lists still to visit (a loop: cheaper than recursion)
    while stack:
        node = stack.pop()
        if node.__class__ is list:
            stack += [item for item in node if item.__class__ is dict]
            continue
        ref = node.get("reference")
        if ref.__class__ is str and _is_local(ref):
            node["reference"] = _resolve_reference(ref, refs, resolver, where)
        for key, value in node.items():
            kind = value.__class__
            if kind is dict or (kind is list and key != "contained"):
                stack.append(value)


def _resolve_reference(ref: str, refs: dict[str, str], resolver: Resolver | None, where: str) -> str:
    if ref in refs:
        return refs[ref]
    if "?" in ref:  # a conditional reference: Patient?identifier=...
        if resolver is None:
            raise NeedsDatabase(where)
        rtype, _, criteria = ref.partition("?")
        found = resolver.find_one(rtype, parse_qsl(criteria), f"The reference {ref} in {where}")
        if found is None:
            raise bad_request(f"The conditional reference {ref} matches no resource", location=where)
        return found.reference
    raise bad_request(f"The reference {ref} names no entry of this Bundle", location=where)

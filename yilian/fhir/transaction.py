"""Transaction and batch Bundles (FHIR R4 §3.1.0.11).

A transaction is all-or-nothing in one database transaction. It is planned first (transaction_plan.py:
identities, references, validation and prepared rows, none of which needs the database; a bulk loader
plans in worker processes and hands the plan over), then applied here: conditional creates, PUTs and
DELETEs are matched (one lookup for all) and references moved to their matches, then DELETE, POST (all
creates in one batch), PUT and GET run in that order. A batch runs each entry on its own, in a savepoint,
and reports each entry's outcome.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from yilian.fhir.messages import FhirRequest, FhirResponse, http_date
from yilian.fhir.outcomes import FhirError, bad_request, forbidden
from yilian.fhir.transaction_plan import Plan, Step, criteria_of, parse_entry, plan_transaction
from yilian.gate.repository import GatedRepository, single_token
from yilian.store.repository import Stored
from yilian.store.rows import PreparedBatch
from yilian.store.search.keys import param_key


def process(repo: GatedRepository, req: FhirRequest) -> FhirResponse:
    if req.plan is not None:
        if req.plan.caller != repo.caller:
            raise forbidden("A transaction plan can only be applied by the caller it was planned for")
        return apply(repo, req.plan)
    bundle = req.body
    if not bundle or bundle.get("resourceType") != "Bundle":
        raise bad_request("POST to the base URL takes a transaction or batch Bundle")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise bad_request(f"Bundle.type must be transaction or batch, not {kind!r}", location="Bundle.type")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise bad_request("Bundle.entry must be an array", location="Bundle.entry")
    if len(entries) > repo.settings.max_bundle_entries:
        raise bad_request(f"A Bundle may carry at most {repo.settings.max_bundle_entries} entries")
    if kind == "batch":
        return _batch(repo, entries)
    return apply(repo, plan_transaction(entries, repo.caller, resolver=repo))


def apply(repo: GatedRepository, plan: Plan) -> FhirResponse:
    """Write a planned transaction inside the repository's transaction."""
    base = repo.settings.base_url
    _match_conditions(repo, plan)
    results: dict[int, dict] = {}
    for step in plan.steps:
        if step.method == "DELETE":
            if step.rid_id:
                repo.delete(step.rtype, step.rid_id)
            results[step.index] = {"response": {"status": "204 No Content"}}
    posts = plan.posts()
    for step in posts:
        if step.existing is not None:
            results[step.index] = _written(base, step.existing, 200)
    fresh = [s for s in posts if s.existing is None]
    if fresh:
        created = repo.create_batch(plan.batch)
        modified = http_date(plan.now)  # one time stamp for the whole batch
        for step, stored in zip(fresh, created, strict=True):
            results[step.index] = _written(base, stored, 201, modified)
    for step in plan.steps:
        if step.method == "PUT":
            stored, created = repo.update(step.resource, if_match=step.entry["request"].get("ifMatch"))
            results[step.index] = _written(base, stored, 201 if created else 200)
        elif step.method in ("GET", "HEAD"):
            results[step.index] = _sub_request(repo, step)
    ordered = [results[s.index] for s in plan.steps]
    return FhirResponse(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": ordered})


class NotMergeable(Exception):
    """A run of plans cannot be applied as one without changing what they do: apply them one by one."""


def mergeable(plan: Plan) -> bool:
    """Plans of creates only (conditional or not), the shape of nearly every feed message and loaded
    Bundle, can be applied together by `apply_run`."""
    return all(step.method == "POST" for step in plan.steps)


def apply_run(repo: GatedRepository, plans: list[Plan]) -> list[tuple[FhirResponse, list[Stored]]]:
    """Apply `mergeable` plans as if one after another, but with one lookup of all their conditional
    criteria and one batch of creates: per plan, its response and the resources it created.

    A conditional create matches what the database holds or what an *earlier* plan of the run creates
    (found in memory, from that plan's prepared token rows), as it would have one plan at a time. Where
    memory cannot answer that exactly (criteria other than one plain token, or more than one match),
    NotMergeable is raised before anything is written, and the caller applies the plans one by one."""
    for plan in plans:
        if plan.caller != repo.caller:
            raise forbidden("A transaction plan can only be applied by the caller it was planned for")
    run = _Run(plans)
    run.match(repo)
    created = repo.create_batch(run.batch) if run.batch.resources else []
    by_key = {row[0]: stored for row, stored in zip(run.batch.resources, created, strict=True)}
    return [run.response(repo.settings.base_url, i, by_key) for i in range(len(plans))]


class _Run:
    """The plans of one `apply_run`, their creates in one batch (each plan's keys moved up by its offset)."""

    def __init__(self, plans: list[Plan]) -> None:
        self.plans = plans
        self.batch, self.offsets = PreparedBatch.concatenated([p.batch for p in plans])
        # (plan, step) -> what a conditional create matched: a stored resource, or the key creating it
        self.matched: dict[tuple[int, int], Stored | int] = {}
        self.dropped: dict[int, set[int]] = {}  # plan -> batch keys of its creates that matched

    def match(self, repo: GatedRepository) -> None:
        conditional = [
            (i, step, criteria_of(step))
            for i, p in enumerate(self.plans)
            for step in p.steps
            if step.condition
        ]
        unique = list(dict.fromkeys(c for _i, _s, c in conditional))
        found = dict(
            zip(unique, repo.find_all([(t, list(p)) for t, p in unique]) if unique else [], strict=True)
        )
        tokens = {c: single_token(c[0], list(c[1])) for c in unique}
        memory = _CreatedTokens(self.batch, {(c[0], t[0]) for c, t in tokens.items() if t is not None})
        moved: dict[str, str] = {}
        mentioned: dict[int, set[str]] = {}
        plan_at = 0
        for i, step, criteria in conditional:
            while plan_at < i:  # the creates of earlier plans are visible to this one's criteria
                memory.add_plan(self.plans[plan_at], self.offsets[plan_at], self.dropped.get(plan_at, set()))
                plan_at += 1
            hits = found[criteria]
            token = tokens[criteria]
            if token is None and memory.has_type(step.rtype):
                raise NotMergeable(f"{step.rtype} criteria that memory cannot answer")
            in_memory = memory.find(step.rtype, *token) if token is not None else []
            if len(hits) + len(in_memory) > 1:
                raise NotMergeable("criteria with more than one match")
            if not hits and not in_memory:
                continue  # it creates
            off = self.offsets[i]
            if hits:
                self.matched[(i, step.index)] = hits[0]
                reference = hits[0].reference
            else:
                creator, rid_id = in_memory[0]
                self.matched[(i, step.index)] = creator
                reference = f"{step.rtype}/{rid_id}"
            self.dropped.setdefault(i, set()).add(step.key + off)
            old = f"{step.rtype}/{step.rid_id}"
            moved[old] = reference
            for key, olds in _mentioned(self.plans[i], {old: reference}, off).items():
                mentioned.setdefault(key, set()).update(olds)
        self.batch.drop(set().union(*self.dropped.values()))
        self.batch.retarget(moved, mentioned)

    def response(self, base: str, i: int, by_key: dict[int, Stored]) -> tuple[FhirResponse, list[Stored]]:
        plan, off = self.plans[i], self.offsets[i]
        modified = http_date(plan.now)
        entries, created = [], []
        for step in plan.steps:
            match = self.matched.get((i, step.index))
            if match is None:
                stored = by_key[step.key + off]
                created.append(stored)
                entries.append(_written(base, stored, 201, modified))
            else:
                entries.append(_written(base, by_key[match] if isinstance(match, int) else match, 200))
        created.sort(key=lambda s: s.rid)  # as one plan's create_batch returns them: in key order
        body = {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
        return FhirResponse(200, body), created


class _CreatedTokens:
    """The token rows of the resources a run creates, for the parameters its criteria use, so a later
    plan's conditional create can find what an earlier plan of the run creates."""

    def __init__(self, batch: PreparedBatch, wanted: set[tuple[str, str]]) -> None:
        params = {param_key(rtype, code) for rtype, code in wanted}
        self.rows_of: dict[int, list[tuple]] = {}
        for row in batch.index.get("tokens", ()):
            if row[1] in params:
                self.rows_of.setdefault(row[0], []).append(row)
        # key -> id, of the resources a criteria could find
        self.ids = {row[0]: row[2] for row in batch.resources if row[0] in self.rows_of}
        self.found: dict[tuple[int, str], list[tuple[str, int]]] = {}  # (param, value) -> (system, key)
        self.types: set[str] = set()

    def add_plan(self, plan: Plan, offset: int, dropped: set[int]) -> None:
        for step in plan.steps:
            key = step.key + offset
            if key in dropped:
                continue
            self.types.add(step.rtype)
            for _key, param, system, value in self.rows_of.get(key, ()):
                self.found.setdefault((param, value), []).append((system, key))

    def has_type(self, rtype: str) -> bool:
        return rtype in self.types

    def find(self, rtype: str, code: str, system: str | None, value: str) -> list[tuple[int, str]]:
        keys = {
            key
            for row_system, key in self.found.get((param_key(rtype, code), value), ())
            if system is None or row_system == system
        }
        return [(key, self.ids[key]) for key in sorted(keys)]


def _mentioned(plan: Plan, moved: dict[str, str], offset: int) -> dict[int, set[str]]:
    """Batch key (moved up by `offset`) -> the provisional references in `moved` its resource mentions."""
    out: dict[int, set[str]] = {}
    for old in moved:
        for i in plan.mentions.get(old, ()):
            key = plan.steps[i].key
            if key is not None:
                out.setdefault(key + offset, set()).add(old)
    return out


def _match_conditions(repo: GatedRepository, plan: Plan) -> None:
    """Find what each conditional entry's criteria match (all in one lookup): a conditional create that
    matches is not written, a conditional PUT updates its match, a conditional DELETE deletes it; the
    other entries' references move from the provisional ids to the matches."""
    conditional = [(step, criteria) for step in plan.steps if (criteria := criteria_of(step)) is not None]
    plan.look_up(repo, [criteria for _step, criteria in conditional])
    moved: dict[str, str] = {}
    for step, criteria in conditional:
        kind = "ifNoneExist" if step.method == "POST" else f"conditional {step.method}"
        found = plan.match(criteria, f"Bundle.entry[{step.index}] {kind}")
        if step.method == "POST":
            step.existing = found
        elif step.method == "DELETE":
            step.rid_id = found.id if found else None
        if found is not None and step.method != "DELETE":
            moved[f"{step.rtype}/{step.rid_id}"] = found.reference
            if step.method == "PUT":
                step.rid_id = step.resource["id"] = found.id
    plan.found.clear()  # the writes that follow make them stale
    matched = {step.key for step in plan.posts() if step.existing is not None}
    plan.batch.drop(matched)
    if moved:
        plan.batch.retarget(moved, _mentioned(plan, moved, 0))
        for step in plan.steps:
            if step.method == "PUT":
                _retarget_resource(step.resource, moved)


def _retarget_resource(resource: dict, moved: dict[str, str]) -> None:
    stack: list = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("reference") in moved:
                node["reference"] = moved[node["reference"]]
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node)


def _written(base: str, stored: Stored, status: int, modified: str | None = None) -> dict:
    text = {200: "200 OK", 201: "201 Created"}[status]
    return {
        "response": {
            "status": text,
            "location": f"{base}/{stored.type}/{stored.id}/_history/{stored.version}",
            "etag": stored.etag,
            "lastModified": modified or http_date(stored.last_updated),
        }
    }


def _sub_request(repo: GatedRepository, step: Step) -> dict:
    from yilian.fhir.router import dispatch  # the router imports this module

    url = step.entry["request"]["url"]
    sub = FhirRequest(step.method, urlsplit(url).path, step.query, step.resource, _entry_headers(step.entry))
    response = dispatch(repo, sub)
    entry: dict = {"response": {"status": str(response.status)}}
    body = response.resource()
    if body is not None:
        entry["resource"] = body
    return entry


def _entry_headers(entry: dict) -> dict[str, str]:
    request = entry.get("request", {})
    names = {"ifNoneExist": "if-none-exist", "ifMatch": "if-match", "ifNoneMatch": "if-none-match"}
    return {header: request[key] for key, header in names.items() if request.get(key)}


def _batch(repo: GatedRepository, entries: list) -> FhirResponse:
    from yilian.fhir.router import dispatch

    results = []
    for i, entry in enumerate(entries):
        try:
            with repo.conn.begin_nested():
                step = parse_entry(i, entry)
                url = urlsplit(entry["request"]["url"])
                sub = FhirRequest(step.method, url.path, step.query, step.resource, _entry_headers(entry))
                response = dispatch(repo, sub)
            out: dict = {"response": {"status": str(response.status)}}
            if "Location" in response.headers:
                out["response"]["location"] = response.headers["Location"]
            if "ETag" in response.headers:
                out["response"]["etag"] = response.headers["ETag"]
            body = response.resource()
            if body is not None:
                out["resource"] = body
        except FhirError as err:
            out = {"response": {"status": str(err.status), "outcome": err.outcome()}}
        results.append(out)
    return FhirResponse(200, {"resourceType": "Bundle", "type": "batch-response", "entry": results})

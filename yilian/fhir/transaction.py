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
from yilian.gate.repository import GatedRepository
from yilian.store.repository import Stored


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
        mentioning = {plan.steps[i].key for old in moved for i in plan.mentions.get(old, ())}
        plan.batch.retarget(moved, mentioning - {None})
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

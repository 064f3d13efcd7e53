"""Transaction and batch Bundles (FHIR R4 §3.1.0.11).

A transaction is all-or-nothing in one database transaction: identities are resolved first (new ids for
POSTs, `ifNoneExist` and conditional PUT criteria searched), `urn:uuid:` and conditional references are
rewritten, every resource is validated before anything is written, then DELETE, POST, PUT and GET run in
that order. All creates go to the store as one batch, which is what makes bulk loading fast.
A batch runs each entry on its own, in a savepoint, and reports each entry's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from yilian.fhir.interactions import check_resource
from yilian.fhir.messages import FhirRequest, FhirResponse, http_date
from yilian.fhir.outcomes import FhirError, Problem, bad_request, invalid_resource
from yilian.fhir.validation import is_known_resource_type
from yilian.gate.repository import GatedRepository
from yilian.store.repository import Stored, new_id

METHODS = ("DELETE", "POST", "PUT", "GET", "HEAD")


@dataclass
class Step:
    index: int
    method: str
    rtype: str
    rid_id: str | None
    query: list[tuple[str, str]]
    resource: dict | None
    entry: dict
    existing: Stored | None = None  # a conditional create's match: nothing to write


def process(repo: GatedRepository, req: FhirRequest) -> FhirResponse:
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
    return _transaction(repo, entries)


def _parse_entry(i: int, entry: dict) -> Step:
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
        raise bad_request(f"'{request['url']}' does not name a resource type", location=f"{where}.request.url")
    resource = entry.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise bad_request(f"A {method} entry needs a resource", location=f"{where}.resource")
    rid_id = parts[1] if len(parts) > 1 else None
    return Step(i, method, parts[0], rid_id, parse_qsl(url.query), resource, entry)


def _transaction(repo: GatedRepository, entries: list) -> FhirResponse:
    steps = [_parse_entry(i, e) for i, e in enumerate(entries)]
    refs = _resolve_identities(repo, steps)
    problems: list[Problem] = []
    for step in steps:
        if step.resource is not None and step.existing is None:
            _rewrite_references(repo, step, refs)
            try:
                check_resource(step.resource, step.rtype, f"Bundle.entry[{step.index}].resource.")
            except FhirError as err:
                problems += err.problems
    if problems:
        raise invalid_resource(problems[:200])
    results: dict[int, dict] = {}
    base = repo.settings.base_url
    for step in steps:
        if step.method == "DELETE":
            if step.rid_id:
                repo.delete(step.rtype, step.rid_id)
            results[step.index] = {"response": {"status": "204 No Content"}}
    _create_posts(repo, steps, results, base)
    for step in steps:
        if step.method == "PUT":
            stored, created = repo.update(step.resource, if_match=step.entry["request"].get("ifMatch"))
            results[step.index] = _written(base, stored, 201 if created else 200)
    for step in steps:
        if step.method in ("GET", "HEAD"):
            results[step.index] = _sub_request(repo, step)
    ordered = [results[s.index] for s in steps]
    return FhirResponse(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": ordered})


def _create_posts(repo: GatedRepository, steps: list[Step], results: dict[int, dict], base: str) -> None:
    """Create every POST entry not yet handled, in one batch."""
    pending = [s for s in steps if s.method == "POST" and s.index not in results]
    if not pending:
        return
    for s in pending:
        if s.existing is not None:
            results[s.index] = _written(base, s.existing, 200)
    fresh = [s for s in pending if s.existing is None]
    created = repo.create_many([(s.resource, s.rid_id) for s in fresh])
    for s, stored in zip(fresh, created, strict=True):
        results[s.index] = _written(base, stored, 201)


def _resolve_identities(repo: GatedRepository, steps: list[Step]) -> dict[str, str]:
    """Give every entry its final Type/id; map each fullUrl to it."""
    refs: dict[str, str] = {}
    for step in steps:
        where = f"Bundle.entry[{step.index}]"
        if step.method == "POST":
            condition = step.entry["request"].get("ifNoneExist")
            if condition:
                step.existing = repo.find_one(step.rtype, parse_qsl(condition.lstrip("?")), f"{where} ifNoneExist")
            step.rid_id = step.existing.id if step.existing else new_id()
        elif step.method in ("PUT", "DELETE") and step.rid_id is None:
            if not step.query:
                raise bad_request(f"{step.method} needs an id or search criteria", location=f"{where}.request.url")
            found = repo.find_one(step.rtype, step.query, f"{where} conditional {step.method}")
            step.rid_id = found.id if found else (new_id() if step.method == "PUT" else None)
        if step.method == "PUT":
            step.resource["id"] = step.rid_id
        full_url = step.entry.get("fullUrl")
        if full_url and step.rid_id:
            refs[full_url] = f"{step.rtype}/{step.rid_id}"
    return refs


def _rewrite_references(repo: GatedRepository, step: Step, refs: dict[str, str]) -> None:
    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and (ref.startswith("urn:") or "?" in ref):
                node["reference"] = _resolve_reference(repo, ref, refs, path)
            for key, value in node.items():
                if isinstance(value, dict | list) and key != "contained":
                    walk(value, path)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(step.resource, f"Bundle.entry[{step.index}].resource")


def _resolve_reference(repo: GatedRepository, ref: str, refs: dict[str, str], where: str) -> str:
    if ref in refs:
        return refs[ref]
    if "?" in ref:  # a conditional reference: Patient?identifier=...
        rtype, _, criteria = ref.partition("?")
        found = repo.find_one(rtype, parse_qsl(criteria), f"The reference {ref} in {where}")
        if found is None:
            raise bad_request(f"The conditional reference {ref} matches no resource", location=where)
        return found.reference
    raise bad_request(f"The reference {ref} names no entry of this Bundle", location=where)


def _written(base: str, stored: Stored, status: int) -> dict:
    text = {200: "200 OK", 201: "201 Created"}[status]
    return {
        "response": {
            "status": text,
            "location": f"{base}/{stored.type}/{stored.id}/_history/{stored.version}",
            "etag": stored.etag,
            "lastModified": http_date(stored.last_updated),
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
                step = _parse_entry(i, entry)
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


"""The RESTful FHIR interactions: read, vread, create, update, delete (and their conditional forms),
search and history. Each takes a GatedRepository and a FhirRequest and returns a FhirResponse."""

from __future__ import annotations

from urllib.parse import parse_qsl

from yilian.fhir import bundles
from yilian.fhir.messages import FhirRequest, FhirResponse, http_date
from yilian.fhir.outcomes import Problem, bad_request, invalid_resource, not_found
from yilian.fhir.validation import validate
from yilian.gate.repository import GatedRepository
from yilian.store.repository import Stored, new_id
from yilian.store.search.dates import date_range


def check_resource(resource: dict, rtype: str | None, where: str = "") -> None:
    """Reject a resource that is not valid FHIR R4 (or not of `rtype`), naming the path of each problem."""
    if rtype and resource.get("resourceType") != rtype:
        raise bad_request(
            f"The body is a {resource.get('resourceType') or 'resource without resourceType'}, "
            f"but the URL is for {rtype}",
            location=f"{where}resourceType",
        )
    issues = validate(resource)
    if issues:
        raise invalid_resource([Problem(i.message, i.code, _located(where, i.path)) for i in issues])


def _located(where: str, path: str) -> str:
    """Inside a Bundle the entry prefix already names the resource: drop the path's leading type."""
    return where + path.split(".", 1)[1] if where and "." in path else where + path


def resource_response(stored: Stored, status: int, req: FhirRequest, base: str) -> FhirResponse:
    headers = {"ETag": stored.etag, "Last-Modified": http_date(stored.last_updated)}
    if status == 201:
        headers["Location"] = f"{base}/{stored.type}/{stored.id}/_history/{stored.version}"
    prefer = (req.header("prefer") or "").replace(" ", "")
    if "return=minimal" in prefer:
        return FhirResponse(status, None, headers)
    return FhirResponse(status, None, headers, raw=stored.content)


def read(repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str) -> FhirResponse:
    stored = repo.read(rtype, rid_id)
    if req.header("if-none-match") in (stored.etag, f'"{stored.version}"'):
        return FhirResponse(304, None, {"ETag": stored.etag})
    return resource_response(stored, 200, req, repo.settings.base_url)


def vread(repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str, version: str) -> FhirResponse:
    if not version.isdigit():
        raise not_found(f"'{version}' is not a version of {rtype}/{rid_id}")
    return resource_response(repo.vread(rtype, rid_id, int(version)), 200, req, repo.settings.base_url)


def body_of(req: FhirRequest) -> dict:
    if req.body is None:
        raise bad_request("This interaction needs a FHIR resource in the request body")
    return req.body


def create(repo: GatedRepository, req: FhirRequest, rtype: str) -> FhirResponse:
    resource = body_of(req)
    check_resource(resource, rtype)
    condition = req.header("if-none-exist")
    if condition:
        existing = repo.find_one(rtype, parse_qsl(condition.lstrip("?")), "If-None-Exist")
        if existing is not None:
            return resource_response(existing, 200, req, repo.settings.base_url)
    resource.pop("id", None)  # the server assigns ids on create
    return resource_response(repo.create(resource), 201, req, repo.settings.base_url)


def update(repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str) -> FhirResponse:
    resource = body_of(req)
    check_resource(resource, rtype)
    if resource.get("id") != rid_id:
        raise bad_request(
            f"The resource's id ({resource.get('id')!r}) must equal the id in the URL ({rid_id!r})",
            location="id",
        )
    stored, created = repo.update(resource, if_match=req.header("if-match"))
    return resource_response(stored, 201 if created else 200, req, repo.settings.base_url)


def conditional_update(repo: GatedRepository, req: FhirRequest, rtype: str) -> FhirResponse:
    if not req.query:
        raise bad_request(f"PUT /{rtype} needs search criteria (conditional update) or an id in the URL")
    resource = body_of(req)
    existing = repo.find_one(rtype, req.query, "The conditional update's criteria")
    if existing is not None:
        if resource.get("id") not in (None, existing.id):
            raise bad_request("The resource's id does not match the resource the criteria found")
        resource["id"] = existing.id
    elif not resource.get("id"):
        resource["id"] = new_id()
    return update(repo, req, rtype, resource["id"])


def delete(repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str) -> FhirResponse:
    repo.delete(rtype, rid_id)
    return FhirResponse(204)


def conditional_delete(repo: GatedRepository, req: FhirRequest, rtype: str) -> FhirResponse:
    if not req.query:
        raise bad_request(f"DELETE /{rtype} needs search criteria (conditional delete)")
    existing = repo.find_one(rtype, req.query, "The conditional delete's criteria")
    if existing is not None:
        repo.delete(rtype, existing.id)
    return FhirResponse(204)


def search(repo: GatedRepository, req: FhirRequest, rtype: str) -> FhirResponse:
    pairs = list(req.query)
    if req.method == "POST" and req.body:  # _search with form fields
        pairs += [(k, str(v)) for k, v in req.body.items()]
    query = repo.parse(rtype, pairs)
    result = repo.search(query)
    base = repo.settings.base_url
    if query.summary == "count":
        return FhirResponse(200, {"resourceType": "Bundle", "type": "searchset", "total": result.total})
    bundle = bundles.searchset(
        base,
        rtype,
        pairs,
        result.matches,
        result.included,
        total=result.total,
        offset=query.offset,
        count=query.count,
    )
    return FhirResponse(200, bundle)


def history(repo: GatedRepository, req: FhirRequest, rtype: str | None, rid_id: str | None) -> FhirResponse:
    params = dict(req.query)
    since = None
    if "_since" in params:
        rng = date_range(params["_since"])
        if rng is None:
            raise bad_request(f"_since must be a FHIR instant, not '{params['_since']}'")
        since = rng[0]
    count = min(int(params.get("_count", 100)), repo.settings.max_page_size)
    offset = int(params.get("_offset", 0))
    if rid_id:
        versions = repo.history(rtype=rtype, rid_id=rid_id, since=since, count=count, offset=offset)
        if not versions:
            raise not_found(f"{rtype}/{rid_id} is not known")
    else:
        versions = repo.history(rtype=rtype, since=since, count=count, offset=offset)
    return FhirResponse(200, bundles.history_bundle(repo.settings.base_url, versions))

"""Patient/$everything: the patient, every resource in their compartment, and what those reference.

One indexed query on the compartment table, within the caller's scope; the Bundle embeds the stored JSON
as is. Supports _since, _type, _count and _offset (paging links when a page is full).
"""

from __future__ import annotations

from yilian.fhir import bundles
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import operation
from yilian.fhir.outcomes import bad_request
from yilian.fhir.validation import is_known_resource_type
from yilian.gate.repository import GatedRepository
from yilian.store.search.dates import date_range


@operation("Patient", "$everything", instance=True)
def run(repo: GatedRepository, req: FhirRequest, patient_id: str) -> FhirResponse:
    params = dict(req.query)
    since = None
    if "_since" in params:
        rng = date_range(params["_since"])
        if rng is None:
            raise bad_request(f"_since must be a FHIR instant, not '{params['_since']}'")
        since = rng[0]
    types = [t for t in params.get("_type", "").split(",") if t]
    for t in types:
        if not is_known_resource_type(t):
            raise bad_request(f"_type: '{t}' is not a resource type")
    limit = repo.settings.everything_page_size
    count = min(int(params.get("_count", limit)), limit) if params.get("_count", "x").isdigit() else limit
    offset = int(params["_offset"]) if params.get("_offset", "").isdigit() else 0
    found = repo.everything(patient_id, since=since, types=types, limit=count, offset=offset)
    base = repo.settings.base_url
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": bundles.page_links(
            base, f"Patient/{patient_id}/$everything", req.query, offset, count, len(found), None
        ),
        "entry": [bundles.entry(base, s, "match") for s in found],
    }
    if offset == 0 and len(found) < count:
        bundle["total"] = len(found)
    return FhirResponse(200, bundle)

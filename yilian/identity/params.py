"""Reading a FHIR Parameters body (or the query string) of an MPI operation."""

from __future__ import annotations

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import bad_request


def value(req: FhirRequest, name: str, required: bool = False) -> object:
    """A parameter's value: the query string first, then the Parameters body (any value[x])."""
    query = dict(req.query)
    if name in query:
        return query[name]
    for p in (
        (req.body or {}).get("parameter", []) if (req.body or {}).get("resourceType") == "Parameters" else []
    ):
        if p.get("name") == name:
            if "resource" in p:
                return p["resource"]
            for key, v in p.items():
                if key.startswith("value"):
                    return v
    if required:
        raise bad_request(f"The parameter '{name}' is required")
    return None


def reference_id(req: FhirRequest, name: str, rtype: str) -> str:
    """The id in a Reference (or 'Type/id' string, or a bare id) parameter."""
    v = value(req, name, required=True)
    ref = v.get("reference", "") if isinstance(v, dict) else str(v)
    if "/" in ref:
        kind, _, rid = ref.rpartition("/")
        if kind.split("/")[-1] != rtype:
            raise bad_request(f"'{name}' must reference a {rtype}")
        return rid
    if not ref:
        raise bad_request(f"'{name}' must reference a {rtype}")
    return ref

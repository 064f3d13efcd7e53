"""The transport-agnostic request and response that the router speaks (API, CLI, ingest and pages alike)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import orjson

from yilian.fhir.outcomes import bad_request


@dataclass
class FhirRequest:
    method: str  # GET, POST, PUT, DELETE
    path: str  # relative to the FHIR base, e.g. "Patient/123/_history/2" or "" for the base
    query: list[tuple[str, str]] = field(default_factory=list)
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    plan: Any = None  # a transaction planned ahead (bulk loading); see fhir.transaction_plan

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def parts(self) -> list[str]:
        return [p for p in self.path.strip("/").split("/") if p]


@dataclass
class FhirResponse:
    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a stored resource's JSON, sent as is

    def json_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return orjson.dumps(self.body) if self.body is not None else b""

    def resource(self) -> dict | None:
        """The body as plain dicts (stored JSON embedded in Bundles is parsed too)."""
        if self.raw is None and self.body is None:
            return None
        return orjson.loads(self.json_bytes())


def parse_body(raw: bytes) -> dict:
    """Parse a JSON request body into a dict, with an OperationOutcome-ready error when it is not one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object (a FHIR resource)")
    return body


def http_date(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)

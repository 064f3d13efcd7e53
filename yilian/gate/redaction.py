"""The REDACT obligation: level-5 elements inside a lower-level resource, removed for readers without the
right, with the resource marked so the reader knows something was withheld."""

from __future__ import annotations

from dataclasses import replace

import orjson

from yilian.gate.labels import rules
from yilian.store.repository import Stored
from yilian.store.search.parse import SearchQuery

REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "部分敏感内容已隐去 redacted",
}


def redact(stored: Stored) -> Stored:
    resource = orjson.loads(stored.content)
    for element in (stored.redact or "").split():
        resource.pop(element, None)
    resource.setdefault("meta", {}).setdefault("security", []).append(REDACTED)
    return replace(stored, content=orjson.dumps(resource))


def touches_redacted_elements(query: SearchQuery) -> bool:
    """Whether a search criterion reads an element that may be redacted (e.g. Encounter.reasonCode)."""
    elements = rules().redaction_elements()
    return any(f".{e}" in c.param.expression for c in query.criteria for e in elements)

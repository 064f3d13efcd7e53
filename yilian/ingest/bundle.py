"""The transaction Bundle a feed message becomes, keyed on the member's own identifiers.

Every resource is written conditionally on an identifier the member gave it (MRN, visit number, order
and report numbers...), so the same message sent twice, or a result that arrives before the patient's
registration, never duplicates anything: `create` is a conditional create (ifNoneExist), `upsert` a
conditional update (PUT Type?identifier=...) for what the member may change (demographics, a visit
being closed, a corrected result). Entries reference each other by urn:uuid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

_URL_SAFE = re.compile(r"[A-Za-z0-9_.~|:/-]*")  # what quote() below would leave as it is


def identifier_query(ident: dict) -> str:
    token = f"{ident['system']}|{ident['value']}"
    return "identifier=" + (token if _URL_SAFE.fullmatch(token) else quote(token, safe="|:/"))


@dataclass
class MappedBundle:
    entries: list[dict] = field(default_factory=list)
    _by_key: dict[str, dict] = field(default_factory=dict)

    def _ref(self) -> str:
        return f"urn:uuid:00000000-0000-4000-8000-{len(self.entries) + 1:012d}"

    def create(self, resource: dict, key: dict | None) -> dict:
        """Add a conditional create (plain create without a key); returns a reference to it."""
        return self._add(resource, key, "POST")

    def upsert(self, resource: dict, key: dict) -> dict:
        return self._add(resource, key, "PUT")

    def _add(self, resource: dict, key: dict | None, method: str) -> dict:
        rtype = resource["resourceType"]
        request: dict = {"method": method, "url": rtype}
        if key is not None:
            resource.setdefault("identifier", [])
            if key not in resource["identifier"]:
                resource["identifier"].insert(0, key)
            by_key = f"{rtype}|{key['system']}|{key['value']}"
            seen = self._by_key.get(by_key)
            if seen is not None:  # the same thing twice in one message: one entry
                return {"reference": seen["fullUrl"]}
            if method == "PUT":
                request["url"] = f"{rtype}?{identifier_query(key)}"
            else:
                request["ifNoneExist"] = identifier_query(key)
        full_url = self._ref()
        entry = {"fullUrl": full_url, "resource": resource, "request": request}
        self.entries.append(entry)
        if key is not None:
            self._by_key[by_key] = entry
        return {"reference": full_url}

    def bundle(self) -> dict:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    def count(self, rtype: str) -> int:
        return sum(e["resource"]["resourceType"] == rtype for e in self.entries)

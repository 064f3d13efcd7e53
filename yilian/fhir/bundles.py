"""Building Bundles around stored resources without re-parsing them (orjson.Fragment embeds the JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

import orjson

from yilian.store.repository import Stored
from yilian.store.search.dates import instant


def resource_fragment(stored: Stored) -> orjson.Fragment:
    return orjson.Fragment(stored.content)


def entry(base: str, stored: Stored, mode: str | None = None) -> dict:
    e: dict = {"fullUrl": f"{base}/{stored.type}/{stored.id}", "resource": resource_fragment(stored)}
    if mode:
        e["search"] = {"mode": mode}
    return e


def searchset(
    base: str,
    path: str,
    query: list[tuple[str, str]],
    matches: list[Stored],
    included: Iterable[Stored] = (),
    *,
    total: int | None,
    offset: int,
    count: int,
) -> dict:
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = page_links(base, path, query, offset, count, len(matches), total)
    bundle["entry"] = [entry(base, m, "match") for m in matches] + [
        entry(base, i, "include") for i in included
    ]
    return bundle


def page_links(
    base: str, path: str, query: list[tuple[str, str]], offset: int, count: int, got: int, total: int | None
) -> list[dict]:
    kept = [(k, v) for k, v in query if k not in ("_offset", "_count")]

    def url(at: int) -> str:
        return f"{base}/{path}?" + urlencode([*kept, ("_count", str(count)), ("_offset", str(at))])

    links = [{"relation": "self", "url": url(offset)}, {"relation": "first", "url": url(0)}]
    if offset > 0:
        links.append({"relation": "previous", "url": url(max(0, offset - count))})
    more = got == count and count > 0 and (total is None or offset + count < total)
    if more:
        links.append({"relation": "next", "url": url(offset + count)})
    if total is not None and count > 0:
        links.append({"relation": "last", "url": url(max(0, (total - 1) // count * count))})
    return links


def history_bundle(base: str, versions: list[Stored]) -> dict:
    entries = []
    for v in versions:
        e: dict = {"fullUrl": f"{base}/{v.type}/{v.id}"}
        if not v.deleted:
            e["resource"] = resource_fragment(v)
        url = v.type if v.method == "POST" else f"{v.type}/{v.id}"
        e["request"] = {"method": v.method, "url": url}
        e["response"] = {
            "status": "201" if v.method == "POST" else ("204" if v.deleted else "200"),
            "etag": v.etag,
            "lastModified": instant(v.last_updated),
        }
        entries.append(e)
    return {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}

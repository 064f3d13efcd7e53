"""A resource about to be stored: its metadata stamped, its JSON serialised, its index rows computed."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from yilian.alliance.codes import ACT_CODE, GBT_CATEGORY, GBT_LEVEL, SENSITIVE_ELEMENT, SOURCE_MEMBER
from yilian.store.search.dates import instant
from yilian.store.search.extract import compartment_patients, extract
from yilian.store.search.keys import param_key
from yilian.store.tables import INDEX_TABLES


@dataclass(slots=True)
class Prepared:
    rid: int
    type: str
    id: str
    version: int
    last_updated: float
    member: str | None
    content: bytes
    index: dict[str, list[tuple]]  # IndexRows field -> rows without the rid (prepended when inserted)
    patients: set[str]
    labels: tuple = (4, "MA", None, None)  # level, category, sensitivity, redact (see LABEL_COLUMNS)

    def resource_row(self) -> tuple:
        return (
            self.rid,
            self.type,
            self.id,
            self.version,
            self.last_updated,
            False,
            self.member,
            self.content,
            *self.labels,
        )


LABEL_COLUMNS = ("level", "category", "sensitivity", "redact")


def label_columns(resource: dict) -> tuple:
    """The GB/T 39725 labels in meta.security as column values (gate/labels.py writes them; the store
    only copies them so the gate can filter in SQL)."""
    level, category, sensitivity, redact = 4, "MA", None, []
    for s in resource.get("meta", {}).get("security", ()):
        system, code = s.get("system"), s.get("code") or ""
        if system == GBT_LEVEL and code[1:].isdigit():
            level = int(code[1:])
        elif system == GBT_CATEGORY:
            category = code[:4]
        elif system == ACT_CODE:
            sensitivity = code[:16]
        elif system == SENSITIVE_ELEMENT:
            redact.append(code)
    return level, category, sensitivity, " ".join(redact)[:200] or None


RESOURCE_COLUMNS = (
    "rid",
    "type",
    "id",
    "version",
    "last_updated",
    "deleted",
    "member",
    "content",
    *LABEL_COLUMNS,
)


def stamp_meta(resource: dict, *, rid_id: str, version: int, now: float, member: str | None) -> None:
    """Set id, meta.versionId, meta.lastUpdated and the source-member tag, as the server owns them."""
    resource["id"] = rid_id
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        meta = resource["meta"] = {}
    meta["versionId"] = str(version)
    meta["lastUpdated"] = instant(now)
    if member:
        # The gate decided the member (a writer's own organisation): a tag the client sent cannot differ.
        tags = [t for t in meta.get("tag", []) if t.get("system") != SOURCE_MEMBER]
        tags.append({"system": SOURCE_MEMBER, "code": member})
        meta["tag"] = tags


def member_of(resource: dict) -> str | None:
    """The member named by a resource's source-member tag, if any."""
    for tag in resource.get("meta", {}).get("tag", ()):
        if tag.get("system") == SOURCE_MEMBER:
            return tag.get("code")
    return None


def prepare(
    resource: dict, *, rid: int, rid_id: str, version: int, now: float, member: str | None
) -> Prepared:
    """Stamp and serialise a resource and compute its index rows. Pure: runs in loader workers too
    (with rid 0, the store assigns keys when it inserts)."""
    member = member or member_of(resource)
    stamp_meta(resource, rid_id=rid_id, version=version, now=now, member=member)
    rtype = resource["resourceType"]
    rows = extract(resource)
    index: dict[str, list[tuple]] = {}
    for name in INDEX_TABLES:
        values = getattr(rows, name)
        if values:
            # Key columns cannot be NULL: an absent system or unit is ''. A set drops repeated values.
            index[name] = list(
                {(param_key(rtype, v[0]), *("" if x is None else x for x in v[1:])) for v in values}
            )
    patients = compartment_patients(resource, rows)
    content = orjson.dumps(resource)
    return Prepared(
        rid, rtype, rid_id, version, now, member, content, index, patients, label_columns(resource)
    )


def retarget(p: Prepared, moved: dict[str, str]) -> None:
    """Point a prepared resource's references from provisional "Type/id"s to the resources a conditional
    create matched instead (its JSON, reference rows and compartments)."""
    for old, new in moved.items():
        needle = f'"{old}"'.encode()
        if needle in p.content:
            p.content = p.content.replace(needle, f'"{new}"'.encode())
    old_ids = {k.split("/", 1)[1]: v.split("/", 1)[1] for k, v in moved.items()}
    refs = p.index.get("references")
    if refs:
        p.index["references"] = [(k, t, old_ids.get(i, i)) for k, t, i in refs]
    p.patients = {old_ids.get(pid, pid) for pid in p.patients}

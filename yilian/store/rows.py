"""A resource about to be stored: its metadata stamped, its JSON serialised, its index rows computed."""

from __future__ import annotations

import marshal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from yilian.alliance.codes import ACT_CODE, GBT_CATEGORY, GBT_LEVEL, SENSITIVE_ELEMENT, SOURCE_MEMBER
from yilian.fhir.outcomes import too_deep
from yilian.store.search.dates import instant
from yilian.store.search.derived import column_labels, drop_covered
from yilian.store.search.extract import IndexRows, compartment_patients, extract
from yilian.store.search.keys import param_key


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
    labels: tuple = (4, "MA", None, None, False)  # level, category, sensitivity, redact, in columns

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


LABEL_COLUMNS = ("level", "category", "sensitivity", "redact", "labels_in_columns")


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
    meta["lastUpdated"] = _instant(now)
    if member:
        # The gate decided the member (a writer's own organisation): a tag the client sent cannot differ.
        tags = [t for t in meta.get("tag", []) if t.get("system") != SOURCE_MEMBER]
        tags.append({"system": SOURCE_MEMBER, "code": member})
        meta["tag"] = tags


_instant = lru_cache(maxsize=64)(instant)  # a batch stamps many resources with one time


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
    member, rtype, keyed, patients, content, labels = _prepare(resource, rid_id, version, now, member, 0)
    index = {name: [row[1:] for row in rows] for name, rows in keyed.items()}
    return Prepared(rid, rtype, rid_id, version, now, member, content, index, patients, labels)


def _prepare(
    resource: dict, rid_id: str, version: int, now: float, member: str | None, key: int
) -> tuple[str | None, str, dict[str, set[tuple]], set[str], bytes, tuple]:
    member = member or member_of(resource)
    stamp_meta(resource, rid_id=rid_id, version=version, now=now, member=member)
    rtype = resource["resourceType"]
    found = extract(resource, labels_apart=True)
    patients = compartment_patients(resource, found)
    drop_covered(rtype, found.strings, found.tokens, found.quantities, found.references)
    columns = column_labels(found.labels, member, resource["meta"].get("security"))
    found.tokens += found.labels
    index = _index_rows(found, key, _param_keys(rtype))
    labels = (*columns, True) if columns else (*label_columns(resource), False)
    try:
        content = orjson.dumps(resource)
    except orjson.JSONEncodeError:  # valid, but deeper than JSON is written: refused, not a server error
        raise too_deep() from None
    return member, rtype, index, patients, content, labels


def _index_rows(found: IndexRows, key: int, param: dict[str, int]) -> dict[str, set[tuple]]:
    """Rows per index table, each `(key, param key, values...)`. Key columns cannot be NULL: an absent
    system or unit is ''. A set drops repeated values. (Written out per table: this runs ~10 times per
    resource loaded.)"""
    index: dict[str, set[tuple]] = {}
    if found.strings:
        index["strings"] = {(key, param[c], v) for c, v in found.strings}
    if found.tokens:
        index["tokens"] = {(key, param[c], s or "", v) for c, s, v in found.tokens}
    if found.dates:
        index["dates"] = {(key, param[c], low, high) for c, low, high in found.dates}
    if found.references:
        index["references"] = {(key, param[c], t, i) for c, t, i in found.references}
    if found.quantities:
        index["quantities"] = {(key, param[c], v, s or "", u or "") for c, v, s, u in found.quantities}
    if found.numbers:
        index["numbers"] = {(key, param[c], v) for c, v in found.numbers}
    if found.uris:
        index["uris"] = {(key, param[c], v) for c, v in found.uris}
    return index


class _ParamKeys(dict):
    """code -> param_key(type, code) for one resource type, filled on first use."""

    def __init__(self, rtype: str) -> None:
        super().__init__()
        self.rtype = rtype

    def __missing__(self, code: str) -> int:
        self[code] = found = param_key(self.rtype, code)
        return found


@lru_cache(maxsize=512)  # bounded: the type comes from the resource
def _param_keys(rtype: str) -> _ParamKeys:
    return _ParamKeys(rtype)


def _unmarshalled(data: bytes) -> PreparedBatch:
    resources, index, compartment, size = marshal.loads(data)
    return PreparedBatch(resources, index, compartment, size)


@dataclass(slots=True)
class PreparedBatch:
    """Prepared resources column-wise, one list of rows per table, ready for one executemany each.

    Every row starts with its resource's key, the position (0..size-1) it was added at: the store turns
    keys into rids when it inserts (first rid of the block it reserves + key, in SQL), so a batch can be
    built far from the database (a loader worker) and still be inserted without touching each row.
    Rows hold plain values only, which keeps a batch cheap to send between processes.
    """

    resources: list[tuple] = field(default_factory=list)  # (key, *RESOURCE_COLUMNS[1:])
    index: dict[str, list[tuple]] = field(default_factory=dict)  # IndexRows field -> (key, param, ...)
    compartment: list[tuple] = field(default_factory=list)  # (key, patient_id)
    size: int = 0

    def __reduce__(self) -> tuple:
        # Batches travel from loader workers to the writer. Their rows are plain values, which marshal
        # writes and reads back faster than pickle (Synthea plans, 3 rounds: 2.3-2.7 against 3.5-4.0 µs a
        # resource to write, 2.1-2.4 against 2.4-3.3 to read), keeping a string shared by rows as one.
        return _unmarshalled, (marshal.dumps((self.resources, self.index, self.compartment, self.size), 4),)

    def prepare(self, resource: dict, *, rid_id: str, version: int, now: float, member: str | None) -> int:
        """`prepare` straight into the batch (rows built keyed, once); returns the resource's key."""
        key = self.size
        self.size += 1
        member, rtype, index, patients, content, labels = _prepare(
            resource, rid_id, version, now, member, key
        )
        self.resources.append((key, rtype, rid_id, version, now, False, member, content, *labels))
        for name, rows in index.items():
            self.index.setdefault(name, []).extend(rows)
        if patients:
            self.compartment.extend([(key, pid) for pid in patients])
        return key

    def add(self, p: Prepared, key: int | None = None) -> int:
        """Add one prepared resource (under the next key unless given); returns its key."""
        if key is None:
            key = self.size
        self.size = max(self.size, key + 1)
        self.resources.append((key, *p.resource_row()[1:]))
        for name, rows in p.index.items():
            self.index.setdefault(name, []).extend([(key, *row) for row in rows])
        if p.patients:
            self.compartment.extend([(key, pid) for pid in p.patients])
        return key

    def drop(self, keys: set[int]) -> None:
        """Leave out resources that are not to be stored after all (conditional creates that matched)."""
        if not keys:
            return
        self.resources = [r for r in self.resources if r[0] not in keys]
        for name, rows in self.index.items():
            self.index[name] = [r for r in rows if r[0] not in keys]
        self.compartment = [r for r in self.compartment if r[0] not in keys]

    def retarget(self, moved: dict[str, str], mentioned: dict[int, set[str]]) -> None:
        """Point references from provisional "Type/id"s to the resources conditional creates matched
        instead: in the JSON of the resources that mention one (`mentioned`: key -> the provisional
        "Type/id"s it mentions, so each JSON is searched only for its own), the reference rows and the
        compartments."""
        if not moved:
            return
        needles = {old: (f'"{old}"'.encode(), f'"{new}"'.encode()) for old, new in moved.items()}
        content_at = RESOURCE_COLUMNS.index("content")
        for i, row in enumerate(self.resources):
            olds = mentioned.get(row[0])
            if olds:
                content = row[content_at]
                for old in olds:
                    content = content.replace(*needles[old])
                self.resources[i] = (*row[:content_at], content, *row[content_at + 1 :])
        pairs = {tuple(k.split("/", 1)): v.split("/", 1)[1] for k, v in moved.items()}
        refs = self.index.get("references")
        if refs:
            self.index["references"] = [
                (row[0], row[1], row[2], pairs[row[2:]]) if row[2:] in pairs else row for row in refs
            ]
        patients = {old_id: new for (rtype, old_id), new in pairs.items() if rtype == "Patient"}
        if patients:
            self.compartment = [(key, patients.get(pid, pid)) for key, pid in self.compartment]

    def rekeyed(self, new_key: Callable[[int], int], size: int | None = None) -> PreparedBatch:
        """The same rows under other keys (every row rebuilt): `new_key` maps each old key."""

        def keyed(rows: list[tuple]) -> list[tuple]:
            return [(new_key(row[0]), *row[1:]) for row in rows]

        index = {name: keyed(rows) for name, rows in self.index.items()}
        return PreparedBatch(
            keyed(self.resources), index, keyed(self.compartment), self.size if size is None else size
        )

    @staticmethod
    def concatenated(batches: Sequence[PreparedBatch]) -> tuple[PreparedBatch, list[int]]:
        """One batch of several, each one's keys moved up past the ones before; and each one's offset."""
        out, offsets = PreparedBatch(), []
        for batch in batches:
            offset = out.size
            offsets.append(offset)
            out.resources += _shifted(batch.resources, offset)
            for name, rows in batch.index.items():
                out.index.setdefault(name, []).extend(_shifted(rows, offset))
            out.compartment += _shifted(batch.compartment, offset)
            out.size += batch.size
        return out, offsets


# Rows of one table, their keys moved up by an offset. The writer re-keys every row of a run of Bundles
# (a dozen rows per resource), so each row width has its own comprehension: unpacking a fixed number of
# values costs half of the generic `(key, *rest)`.
_SHIFT_BY_WIDTH: dict[int, Callable[[list[tuple], int], list[tuple]]] = {
    2: lambda rows, d: [(k + d, a) for k, a in rows],
    3: lambda rows, d: [(k + d, a, b) for k, a, b in rows],
    4: lambda rows, d: [(k + d, a, b, c) for k, a, b, c in rows],
    5: lambda rows, d: [(k + d, a, b, c, e) for k, a, b, c, e in rows],
}


def _shifted(rows: list[tuple], offset: int) -> list[tuple]:
    if not offset or not rows:
        return rows  # the caller copies them into its own list
    shift = _SHIFT_BY_WIDTH.get(len(rows[0]))
    if shift is None:
        return [(k + offset, *rest) for k, *rest in rows]
    return shift(rows, offset)


def batch_of(prepared: Sequence[Prepared]) -> PreparedBatch:
    batch = PreparedBatch()
    for p in prepared:
        batch.add(p)
    return batch

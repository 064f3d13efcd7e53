"""Which patients an access was about: the Patient compartment of what it touched, kept cheap.

- a Patient touched, or named in the path (`Patient/123/...`): its id;
- `$everything` touches one compartment: the path's patient, no lookup;
- a resource the request wrote: the compartment the store computed for it (`Stored.patients`), no lookup;
- other resources: one indexed query on the store's `compartment` table for their rids;
- a deletion: the compartment rows are gone with the resource, so the previous version's references;
- a refused request (nothing touched, transaction rolled back): the patient named in its path or query.

A write's lookup is deferred to the end of its transaction (one query for every request in it), and on
the SQLite read path the compartment lookup of a read or a search is *deferred* too: the request keeps
the (rid, version) pairs it showed, and `resolve` looks them up when the spool is drained, in one query
for a whole batch. Those versions were current when shown, so while a version is still current its
compartment rows are the ones the request saw; a version replaced since is read back from the history
and its compartment recomputed from its content, as the store computed it when writing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet

import orjson
from sqlalchemy import Connection, select

from yilian.gate.access import Access
from yilian.store import dialect
from yilian.store.codec import codec_of
from yilian.store.search.extract import compartment_patients, extract, parse_reference
from yilian.store.tables import resource_history, resources

# Resource types in no patient compartment (the shared directory): never looked up.
NO_COMPARTMENT = frozenset(
    {
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "HealthcareService",
        "Endpoint",
        "Questionnaire",
        "Medication",
        "CapabilityStatement",
        "SearchParameter",
        "ValueSet",
        "CodeSystem",
    }
)
PATIENT_PARAMS = frozenset({"patient", "subject", "beneficiary", "subject:Patient", "patient:Patient"})
# Reads whose touched versions are the current ones: their lookup may wait for the drain. (A write's
# versions are current when its transaction ends, unless a later request of it replaced them: `resolve`
# reads those from the history.)
DEFERRABLE = frozenset({"read", "search"})
CHUNK = 5000


def patients_of(access: Access) -> set[str]:
    """The patients of an access, looked up now."""
    return patients_known(access, defer=False)[0]


def patients_known(access: Access, defer: bool) -> tuple[set[str], list[tuple[int, int]]]:
    """The patients known without a query, and (when `defer` and the action allows it) the touched
    (rid, version) pairs whose compartments `resolve` looks up later; otherwise they are looked up now."""
    found = _named(access)
    if access.action == "everything":
        return found, []
    lookup: list[tuple[int, int]] = []
    for s in access.touched:
        if s.type == "Patient":
            found.add(s.id)
        elif s.type in NO_COMPARTMENT:
            continue
        elif s.deleted:
            found |= _version_patients(access.conn, s.rid, s.version - 1)
        elif s.patients is not None:  # written just now: the store kept its compartment
            found |= s.patients
        else:
            lookup.append((s.rid, s.version))
    if defer and (access.action in DEFERRABLE or access.writing):
        return found, lookup
    if lookup and access.conn is not None:
        found |= _compartments(access.conn, [rid for rid, _ in lookup])
    return found, []


def _named(access: Access) -> set[str]:
    parts = access.request.parts()
    found = set()
    if len(parts) >= 2 and parts[0] == "Patient" and not parts[1].startswith(("$", "_")):
        found.add(parts[1])
    if access.touched:
        return found
    for key, value in access.request.query:  # a refusal: what was asked for
        if key in PATIENT_PARAMS or (parts == ["Patient"] and key == "_id"):
            for v in value.split(","):
                ref = parse_reference(v) if "/" in v else ("Patient", v)
                if ref and ref[0] == "Patient" and ref[1]:
                    found.add(ref[1])
    return found


def _compartments(conn: Connection, rids: list[int]) -> set[str]:
    """One indexed lookup on `compartment` (driver SQL: this runs on every read, so no ORM overhead)."""
    found: set[str] = set()
    unique = sorted(set(rids))
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        marks = dialect.placeholders(conn, len(chunk))
        sql = f"SELECT DISTINCT patient_id FROM compartment WHERE rid IN ({marks})"
        found.update(row[0] for row in conn.exec_driver_sql(sql, tuple(chunk)))
    return found


def resolve(conn: Connection, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], AbstractSet[str]]:
    """The patients of each (rid, version) shown by a deferred read or written, as it was then (sets
    shared between pairs: do not change them)."""
    pairs = set(wanted)
    current: dict[int, int] = {}
    members: dict[int, set[str]] = {}
    none: frozenset[str] = frozenset()
    unique = sorted({rid for rid, _ in pairs})
    for i in range(0, len(unique), CHUNK):
        chunk = unique[i : i + CHUNK]
        marks = dialect.placeholders(conn, len(chunk))
        sql = (
            "SELECT r.rid, r.version, c.patient_id FROM resources r "
            f"LEFT JOIN compartment c ON c.rid = r.rid WHERE r.rid IN ({marks})"
        )
        for rid, version, patient in conn.exec_driver_sql(sql, tuple(chunk)).all():  # one fetch: many rows
            current[rid] = version
            if patient is not None:
                members.setdefault(rid, set()).add(patient)
    return {
        (rid, v): members.get(rid, none) if current.get(rid) == v else _version_patients(conn, rid, v)
        for rid, v in pairs
    }


def _version_patients(conn: Connection | None, rid: int, version: int) -> set[str]:
    """The compartments of a version no longer current, from its content in the history."""
    if conn is None or version < 1:
        return set()
    h, r = resource_history.c, resources.c
    row = conn.execute(
        select(r.type, h.content)
        .join_from(resource_history, resources, r.rid == h.rid)
        .where(h.rid == rid, h.version == version)
    ).first()
    if row is None:
        return set()
    content = bytes(row.content)
    codec = codec_of(conn)
    resource = orjson.loads(codec.open(row.type, content) if codec is not None else content)
    return compartment_patients(resource, extract(resource))

"""Which patients an access was about: the Patient compartment of what it touched, kept cheap.

- a Patient touched, or named in the path (`Patient/123/...`): its id;
- `$everything` touches one compartment: the path's patient, no lookup;
- other resources: one indexed query on the store's `compartment` table for their rids (in the request's
  transaction, so resources written by it are there too);
- a deletion: the compartment rows are gone with the resource, so the previous version's references;
- a refused request (nothing touched, transaction rolled back): the patient named in its path or query.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, select

from yilian.gate.access import Access
from yilian.store import dialect
from yilian.store.search.extract import compartment_patients, extract, parse_reference
from yilian.store.tables import resource_history

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
CHUNK = 5000


def patients_of(access: Access) -> set[str]:
    found = _named(access)
    if access.action == "everything":
        return found
    lookup: list[int] = []
    for s in access.touched:
        if s.type == "Patient":
            found.add(s.id)
        elif s.type in NO_COMPARTMENT:
            continue
        elif s.deleted:
            found |= _previous_version_patients(access.conn, s)
        else:
            lookup.append(s.rid)
    if lookup and access.conn is not None:
        found |= _compartments(access.conn, lookup)
    return found


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


def _previous_version_patients(conn: Connection | None, stored) -> set[str]:  # noqa: ANN001 - a Stored
    if conn is None or stored.version < 2:
        return set()
    h = resource_history.c
    content = conn.execute(
        select(h.content).where(h.rid == stored.rid, h.version == stored.version - 1)
    ).scalar()
    if content is None:
        return set()
    resource = orjson.loads(content)
    return compartment_patients(resource, extract(resource))

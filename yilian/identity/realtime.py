"""Real-time matching: a Patient that arrives (created, changed, retired by a member's merge, deleted) is
normalised, indexed and matched against the index in the same transaction.

Candidates come from the blocking keys (indexed look-ups), are scored with the trained model (score.py)
and decided (decide.py). Guards at the person level: automatic links go to one person only (a record that
would bridge two persons goes to review), never into a person holding another valid resident ID, and
never where a person already said "not the same".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete

from yilian.identity import block, index, links
from yilian.identity.clusters import own_id
from yilian.identity.compare import Spec
from yilian.identity.decide import AUTO, REVIEW, Decision, decide
from yilian.identity.model import Model
from yilian.identity.normalize import features as normalise
from yilian.identity.persons import new_person_id, regroup
from yilian.identity.score import Score, score
from yilian.identity.tables import mpi_keys, mpi_records


@dataclass
class Candidate:
    record: index.Indexed
    score: Score
    decision: Decision


def match(conn: Connection, spec: Spec, model: Model, f: dict, exclude: str | None = None) -> list[Candidate]:
    """Indexed records that may be the same person as features `f`, best first."""
    ids = index.candidates(conn, block.keys(spec, f), exclude)
    model = model.for_population(index.total(conn))
    tf = index.Frequencies(conn)
    out = []
    for rec in index.get_many(conn, ids):
        if rec.active:
            s = score(spec, model, f, rec.features, tf)
            out.append(Candidate(rec, s, decide(s, model)))
    return sorted(out, key=lambda c: -c.score.weight)


def arrive(
    conn: Connection,
    spec: Spec,
    model: Model,
    patient_id: str,
    version: int,
    member: str | None,
    resource: dict | None,
) -> set[str]:
    """Index one Patient version (None: deleted); returns the persons whose golden record changed."""
    existing = index.get(conn, patient_id)
    if resource is None:
        return _remove(conn, existing) if existing else set()
    if existing and existing.version >= version:
        return set()
    f, demo = normalise(resource), demographics(resource, member)
    survivor = replaced_by(resource)
    active = resource.get("active", True) is not False and survivor is None
    rec = index.Indexed(
        patient_id, version, member, existing.person_id if existing else new_person_id(), active, f, demo
    )
    if existing and existing.features == f and existing.active == active:
        index.put(conn, spec, rec, exists=True)
        return {rec.person_id}
    pairs = links.statuses_of(conn, patient_id)  # its pairs (other record -> status), read once
    others = _forget_machine_links(conn, patient_id, pairs) if existing else []
    index.put(conn, spec, rec, exists=existing is not None)
    seeds = {patient_id, *others}
    if survivor:
        links.put(conn, patient_id, survivor, links.MATCH, reasons=("a40",), by=f"{member or ''}:ADT^A40")
        seeds.add(survivor)
    elif active:
        seeds |= _link(conn, spec, model, rec, pairs)
    if not existing and seeds == {patient_id} and not any(s in links.LINKED for s in pairs.values()):
        return {rec.person_id}  # linked to no one: a person of its own (what regroup would find)
    touched = regroup(conn, seeds)
    return touched | ({existing.person_id} if existing else set())


def _forget_machine_links(conn: Connection, patient_id: str, pairs: dict[str, str]) -> list[str]:
    """Drop the matcher's links and reviews of a record (its features changed), from `pairs` (its pairs)
    too; returns the other ends."""
    others = [other for other, status in pairs.items() if status in (AUTO, REVIEW)]
    if others:
        links.forget(conn, patient_id, (AUTO, REVIEW))
        for other in others:
            del pairs[other]
    return others


def _remove(conn: Connection, existing: index.Indexed) -> set[str]:
    others = links.forget_all(conn, existing.patient_id)
    conn.execute(delete(mpi_keys).where(mpi_keys.c.patient_id == existing.patient_id))
    conn.execute(delete(mpi_records).where(mpi_records.c.patient_id == existing.patient_id))
    return regroup(conn, set(others)) | {existing.person_id}


def _link(conn: Connection, spec: Spec, model: Model, rec: index.Indexed, pairs: dict[str, str]) -> set[str]:
    """Write the matcher's links and reviews for a new or changed record (`pairs`: the pairs it is part
    of, other record -> status); returns the records linked."""
    found = match(conn, spec, model, rec.features, exclude=rec.patient_id)
    refused = {other for other, status in pairs.items() if status == links.NO_MATCH}
    autos = [c for c in found if c.decision.outcome == AUTO and c.record.patient_id not in refused]
    person = autos[0].record.person_id if autos else None
    if person and _ids_conflict(conn, own_id(rec.features), person):
        person = None
    touched = set()
    for c in found:
        other = c.record.patient_id
        if pairs.get(other) in links.HUMAN:  # a person decided this pair: never overwritten
            continue
        outcome, reasons = c.decision.outcome, c.decision.reasons
        if outcome == AUTO and c.record.person_id != person:
            outcome, reasons = REVIEW, ("cluster-ids-conflict",) if person is None else ("bridges-persons",)
        if outcome in (AUTO, REVIEW):
            evidence = [
                {"field": e.field, "level": e.label, "weight": e.weight, "left": e.left, "right": e.right}
                for e in c.score.fields
            ]
            links.change(
                conn,
                rec.patient_id,
                other,
                pairs.get(other),
                outcome,
                weight=c.score.weight,
                evidence=evidence,
                reasons=reasons,
                by="mpi",
            )
            touched.add(other)
    return touched


def _ids_conflict(conn: Connection, rid: str | None, person_id: str) -> bool:
    """The person already holds a valid resident ID other than this record's."""
    if rid is None:
        return False
    held = {i for r in index.members_of(conn, person_id) if (i := own_id(r.features))}
    return bool(held) and rid not in held


def replaced_by(resource: dict) -> str | None:
    """The surviving Patient of a member's merge (ADT^A40 makes the prior record `replaced-by` it)."""
    for link in resource.get("link") or []:
        ref = (link.get("other") or {}).get("reference", "")
        if link.get("type") == "replaced-by" and ref.startswith("Patient/"):
            return ref.split("/", 1)[1]
    return None


def demographics(resource: dict, member: str | None) -> dict:
    """What the golden record and the PIX look-up need from a Patient."""
    keep = ("identifier", "name", "telecom", "gender", "birthDate", "address")
    out = {k: resource[k] for k in keep if resource.get(k)}
    out["identifier"] = [
        {k: i[k] for k in ("system", "value", "use") if k in i}
        for i in resource.get("identifier") or []
        if i.get("value")
    ]
    if member:
        out["member"] = member
    return out

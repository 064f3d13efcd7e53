"""Inclusion and consistency proofs from the stored tiles, as JSON a patient or a member can check alone.

A proof is computed in two passes: the first only notes which complete nodes the proof needs
(tiles.Recorder), then every tile holding them is read in one query (full tiles come from the cache), and
the second pass computes the proof. `check_inclusion` re-verifies a downloaded proof without the database.
"""

from __future__ import annotations

import base64

import orjson
from sqlalchemy import Connection, select

from yilian.audit import checkpoint as cps
from yilian.audit import merkle
from yilian.audit.log import AuditLog
from yilian.audit.tables import audit_checkpoint, audit_entry, audit_event
from yilian.audit.tiles import Recorder, StoredNodes
from yilian.crypto.keys import b64, unb64
from yilian.crypto.suites import suite as suite_named

E = audit_event.c
X = audit_entry.c
C = audit_checkpoint.c


def _nodes(log: AuditLog, conn: Connection, compute) -> list[bytes]:  # noqa: ANN001 - nodes -> proof
    rec = Recorder()
    compute(rec)
    nodes = StoredNodes(conn, log.cache)
    nodes.prefetch(rec.needed)
    return compute(nodes)


def inclusion_path(log: AuditLog, conn: Connection, index: int, size: int) -> list[bytes]:
    h = log.suite.hash
    return _nodes(log, conn, lambda nodes: merkle.inclusion_proof(h, nodes, index, size))


def consistency_path(log: AuditLog, conn: Connection, old: int, new: int) -> list[bytes]:
    h = log.suite.hash
    return _nodes(log, conn, lambda nodes: merkle.consistency_proof(h, nodes, old, new))


def inclusion(log: AuditLog, conn: Connection, leaf: int, size: int | None = None) -> dict:
    """The proof that event `leaf` is in the log, against the newest signed checkpoint (or `size`'s)."""
    stmt = select(C.size, C.note).order_by(C.size.desc()).limit(1)
    if size is not None:
        stmt = select(C.size, C.note).where(C.size == size)
    cp = conn.execute(stmt).first()
    entry = conn.execute(
        select(X.entry).join_from(audit_event, audit_entry, X.seq == E.seq).where(E.leaf == leaf)
    ).scalar()
    if cp is None or entry is None or leaf >= cp.size:
        raise LookupError(f"event {leaf} is not yet in a signed checkpoint of the audit log")
    path = inclusion_path(log, conn, leaf, int(cp.size))
    return {
        "resourceType": "Parameters",  # readable as FHIR too; the fields below are what a checker needs
        "suite": log.suite.name,
        "hash": log.suite.hash_name,
        "leafIndex": leaf,
        "treeSize": int(cp.size),
        "leafHash": b64(merkle.leaf_hash(log.suite.hash, bytes(entry))),
        "inclusionPath": [b64(p) for p in path],
        "checkpoint": cp.note,
        "logPublicKey": b64(log.key.public),
        "auditEvent": orjson.loads(entry),
        "entry": b64(bytes(entry)),
    }


def consistency(log: AuditLog, conn: Connection, old: int, new: int | None = None) -> dict:
    new = new if new is not None else log.head(conn).size
    return {
        "suite": log.suite.name,
        "oldSize": old,
        "newSize": new,
        "consistencyPath": [b64(p) for p in consistency_path(log, conn, old, new)],
    }


def check_inclusion(proof: dict, public_key: bytes | None = None) -> list[str]:
    """Problems with a downloaded inclusion proof (empty when it holds): the entry hashes to the leaf,
    the path leads to the checkpoint's root, and the log signed the checkpoint."""
    suite = suite_named(proof["suite"])
    h = suite.hash
    problems = []
    entry = unb64(proof["entry"])
    leaf = merkle.leaf_hash(h, entry)
    if b64(leaf) != proof["leafHash"]:
        problems.append("the event does not hash to the proof's leaf hash")
    cp = cps.parse(proof["checkpoint"])
    path = [unb64(p) for p in proof["inclusionPath"]]
    if cp.size != proof["treeSize"]:
        problems.append("the checkpoint is for another tree size")
    if not merkle.verify_inclusion(h, proof["leafIndex"], cp.size, leaf, path, cp.root):
        problems.append("the inclusion path does not lead to the checkpoint's root hash")
    key = public_key if public_key is not None else unb64(proof["logPublicKey"])
    if not cps.verify(cp, suite, cp.origin, suite.signature.name, key):
        problems.append("the checkpoint is not signed by the log's key")
    if orjson.loads(entry) != proof.get("auditEvent", orjson.loads(entry)):
        problems.append("the AuditEvent shown is not the one proven")
    return problems


def root_b64(root: bytes) -> str:
    return base64.b64encode(root).decode()

"""Members as witnesses: each registers a public key, countersigns checkpoints and keeps a copy.

The member side runs offline (`yilian audit countersign`, with the member's own key file); the log side
checks a returned countersignature against the member's registered key and keeps it in the checkpoint's
note, so anyone can see which members vouch for which tree heads.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, Engine, delete, insert, select, update

from yilian.audit import checkpoint as cps
from yilian.audit.log import AuditLog
from yilian.audit.tables import audit_checkpoint, audit_witness
from yilian.crypto.keys import KeyPair, b64, unb64
from yilian.crypto.suites import suite as suite_named
from yilian.fhir.outcomes import bad_request, forbidden

W = audit_witness.c
C = audit_checkpoint.c


def add_witness(engine: Engine, name: str, algorithm: str, public_key: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(delete(audit_witness).where(W.name == name))
        conn.execute(
            insert(audit_witness).values(
                name=name, algorithm=algorithm, public_key=b64(public_key), added=time.time()
            )
        )


def witnesses(conn: Connection) -> dict[str, tuple[str, bytes]]:
    return {r.name: (r.algorithm, unb64(r.public_key)) for r in conn.execute(select(audit_witness))}


def countersign(note: str, name: str, key: KeyPair) -> str:
    """The member side: add `name`'s signature to a checkpoint note (after checking nothing else)."""
    cp = cps.parse(note)
    return cps.sign(cp, suite_named(cp.suite), name, key).note()


def add_cosignature(log: AuditLog, note: str, member: str | None = None) -> list[str]:
    """Keep the valid countersignatures of a returned note (only `member`'s own when given)."""
    try:
        cp = cps.parse(note)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    with log.engine.begin() as conn:
        row = conn.execute(select(C.note).where(C.size == cp.size)).first()
        if row is None or cps.parse(row.note).root != cp.root:
            raise bad_request(f"The log has no checkpoint of size {cp.size} with that root")
        stored = cps.parse(row.note)
        keys = witnesses(conn)
        added = []
        for name, value in cp.signatures:
            if name == log.name or name not in keys or (member and name != member):
                continue
            algorithm, public = keys[name]
            if cps.verify(
                cps.Checkpoint(cp.origin, cp.size, cp.root, cp.suite, [(name, value)]),
                log.suite,
                name,
                algorithm,
                public,
            ):
                stored.signatures = [s for s in stored.signatures if s[0] != name] + [(name, value)]
                added.append(name)
        if not added:
            raise forbidden("No valid countersignature of a registered member was found in the note")
        conn.execute(update(audit_checkpoint).where(C.size == cp.size).values(note=stored.note()))
    return added

"""The audit log: records every access the gate reports and folds recorded events into the Merkle tree.

`AuditLog` is the gate observer attached by wiring.build_gate. Recording is durable before the request is
answered (audit.record); folding runs in batches (the server's folder thread, `yilian audit fold`, and
before a proof is asked for): it gives pending events consecutive leaf indexes, writes the new tree nodes
to tiles and signs a checkpoint, all in one transaction, so a crash never leaves half a fold.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Connection, Engine, func, insert, select, update

from yilian.audit import checkpoint as cps
from yilian.audit import merkle
from yilian.audit.events import Facts, build, capture
from yilian.audit.patients import patients_known, patients_of
from yilian.audit.record import GroupCommit, insert_events, shape_facts, shape_spooled
from yilian.audit.spool import Spool, drain_legacy, legacy_path, spool_folder
from yilian.audit.tables import audit_checkpoint, audit_entry, audit_event, audit_state
from yilian.audit.tiles import StoredNodes, TileCache, append_nodes
from yilian.config import Settings
from yilian.crypto.interfaces import CryptoSuite
from yilian.crypto.keys import KeyPair, load_or_create_signing_key
from yilian.crypto.suites import suite as suite_named
from yilian.gate.access import Access
from yilian.store import dialect

E = audit_event.c
X = audit_entry.c
S = audit_state.c
C = audit_checkpoint.c
FOLD_BATCH = 100_000


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes
    note: str | None  # the newest signed checkpoint (None before the first fold)


class AuditLog:
    """One database's audit log, as seen from this process."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.suite: CryptoSuite = suite_named(settings.crypto_suite)
        self.cache = TileCache()
        self.group = GroupCommit(engine)
        self._fold_lock = threading.RLock()
        self.enabled = True
        folder = spool_folder(settings)
        self.spool: Spool | None = Spool(folder) if folder is not None else None
        self.legacy_spool = legacy_path(settings)
        # Write transaction -> the facts of its requests, till it commits (weak: a failed one just goes).
        self._writes: weakref.WeakKeyDictionary[Connection, list[Facts]] = weakref.WeakKeyDictionary()

    @cached_property
    def key(self) -> KeyPair:
        """The log's signing key (created in the key directory on first use)."""
        s = self.settings
        return load_or_create_signing_key(s.keys_path(), self.suite, s.audit_signing_key)

    @property
    def name(self) -> str:
        return self.settings.audit_log_name

    # ---- recording (the gate observer) ----------------------------------------------------------

    def observe(self, access: Access) -> None:
        if not self.enabled:
            return
        conn = access.conn
        if conn is not None and access.writing:
            # A write's event commits with it. The events of one write transaction (a request, or a
            # loader's group of Bundles) are gathered and inserted together by `before_commit`, their
            # patients looked up in one query, not a few statements per request.
            self._writes.setdefault(conn, []).append(_deferred_facts(access))
        elif conn is not None and not dialect.is_sqlite(conn):
            insert_events(conn, [build(access, patients_of(access))])  # commits with the read, or not
        elif self.spool is not None:
            # SQLite reads: the facts are made durable in the spool (no store write lock); the
            # AuditEvent is shaped, and a read's compartment lookup done, when the spool is drained.
            self.spool.append(_deferred_facts(access).pack())
        else:
            self.group.submit([build(access, patients_of(access))])  # returns once committed

    def before_commit(self, conn: Connection) -> None:
        """Insert the events gathered in `conn`'s write transaction (the gate calls this just before it
        commits; a transaction that fails drops them with it, and its refusal is recorded on its own)."""
        gathered = self._writes.pop(conn, None)
        if gathered:
            insert_events(conn, shape_facts(conn, gathered))

    def drain(self) -> int:
        """Copy the read-path spool into the store (the folder does it before each fold)."""
        if self.spool is None:
            return 0
        moved = drain_legacy(self.legacy_spool, self.engine) if self.legacy_spool is not None else 0
        return moved + self.spool.drain(self.engine, shape_spooled)

    # ---- folding ----------------------------------------------------------------------------------

    def fold(self, limit: int = FOLD_BATCH) -> int:
        """Fold up to `limit` pending events into the tree and sign the new head; returns how many."""
        self.drain()
        with (
            self._fold_lock,
            self.engine.connect().execution_options(**dialect.write_options()) as conn,
            conn.begin(),
        ):
            size = self._lock_state(conn)
            pending = select(E.seq).where(E.leaf.is_(None)).order_by(E.seq).limit(limit).subquery()
            rows = conn.execute(
                select(X.seq, X.entry).join_from(pending, audit_entry, X.seq == pending.c.seq).order_by(X.seq)
            ).all()
            if not rows:
                return 0
            h = self.suite.hash
            leaves = [h(b"\x00" + bytes(r.entry)) for r in rows]
            append_nodes(conn, grow(conn, h, size, leaves))
            assign_leaves(conn, [r.seq for r in rows], size)
            new_size = size + len(rows)
            conn.execute(update(audit_state).where(S.id == 1).values(size=new_size))
            root = merkle.root(h, StoredNodes(conn), new_size)
            self._checkpoint(conn, new_size, root)
        return len(rows)

    def fold_all(self) -> int:
        total = 0
        while done := self.fold():
            total += done
        return total

    def _lock_state(self, conn: Connection) -> int:
        row = conn.execute(select(S.size, S.suite).where(S.id == 1).with_for_update()).first()
        if row is None:  # a database emptied by TRUNCATE (tests): start the log again
            conn.execute(insert(audit_state).values(id=1, size=0, suite=self.suite.name))
            return 0
        if row.suite and row.suite != self.suite.name:
            raise RuntimeError(
                f"The audit log was built with the '{row.suite}' suite; settings say '{self.suite.name}'"
            )
        if row.suite is None:
            conn.execute(update(audit_state).where(S.id == 1).values(suite=self.suite.name))
        return int(row.size)

    def _checkpoint(self, conn: Connection, size: int, root: bytes) -> None:
        cp = cps.Checkpoint(self.name, size, root, self.suite.name)
        cps.sign(cp, self.suite, self.name, self.key)
        conn.execute(
            insert(audit_checkpoint).values(size=size, root=root, recorded=time.time(), note=cp.note())
        )

    # ---- reading the head -----------------------------------------------------------------------

    def head(self, conn: Connection | None = None) -> Head:
        if conn is None:
            with self.engine.connect() as c:
                return self.head(c)
        row = conn.execute(select(C.size, C.root, C.note).order_by(C.size.desc()).limit(1)).first()
        if row is None:
            return Head(0, self.suite.hash(b""), None)
        return Head(int(row.size), bytes(row.root), row.note)

    def pending(self) -> int:
        """Events recorded but not yet in the tree (in the store or still in the spool)."""
        spooled = self.spool.count(self.engine) if self.spool is not None else 0
        with self.engine.connect() as conn:
            return spooled + int(conn.execute(select(func.count()).where(E.leaf.is_(None))).scalar_one())


def _deferred_facts(access: Access) -> Facts:
    """An access's facts with the patients known now; the rest are looked up when they are shaped."""
    facts = capture(access)
    found, facts.deferred = patients_known(access, defer=True)
    facts.patients = sorted(found)
    return facts


def grow(
    conn: Connection, h: merkle.Hash, size: int, leaves: list[bytes]
) -> dict[int, tuple[int, list[bytes]]]:
    """The complete nodes that appending `leaves` to a tree of `size` leaves creates, by level:
    level -> (first new index, hashes). A left sibling that is already stored is read from its tile."""
    old, new = size, size + len(leaves)
    stored = StoredNodes(conn)
    created: dict[int, tuple[int, list[bytes]]] = {}
    level, first, nodes = 0, old, leaves
    while nodes:
        created[level] = (first, nodes)
        lo, hi = old >> (level + 1), new >> (level + 1)
        up = []
        for j in range(lo, hi):
            left = 2 * j
            lhash = nodes[left - first] if left >= first else stored.node(level, left)
            up.append(h(b"\x01" + lhash + nodes[left + 1 - first]))
        level, first, nodes = level + 1, lo, up
    return created


def assign_leaves(conn: Connection, seqs: list[int], size: int) -> None:
    """Give events (ordered by seq) leaf indexes size, size+1, ...: one UPDATE per run of consecutive seqs."""
    start = 0
    for i in range(1, len(seqs) + 1):
        if i == len(seqs) or seqs[i] != seqs[i - 1] + 1:
            first, last = seqs[start], seqs[i - 1]
            conn.execute(
                update(audit_event)
                .where(E.seq >= first, E.seq <= last, E.leaf.is_(None))
                .values(leaf=E.seq + (size + start - first))
            )
            start = i


def of(gate) -> AuditLog | None:  # noqa: ANN001 - a Gate
    """The audit log attached to a gate (wiring.build_gate attaches it)."""
    return next((o for o in gate.observers if isinstance(o, AuditLog)), None)

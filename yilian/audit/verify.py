"""`yilian audit verify`: re-check the whole log and name the first tampered entry.

One streaming pass over the events in leaf order:
- each entry's leaf hash is recomputed and compared with the stored one (an edited entry is named);
- leaf indexes must run 0, 1, 2... (a deleted entry leaves a gap: named);
- every complete tree node is recomputed and compared with its stored tile (tiles rewritten to hide an
  edit are found);
- at each signed checkpoint's size the recomputed root must equal the signed root, and the signature must
  verify with the log's public key (an edit with every hash recomputed is still caught, down to the
  checkpoint that covers it);
- the log must reach its newest checkpoint, and any checkpoint a member kept (`--checkpoint FILE`):
  a truncated or rolled-back log is caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from yilian.audit import checkpoint as cps
from yilian.audit.log import AuditLog
from yilian.audit.merkle import CompactRange
from yilian.audit.tables import audit_checkpoint, audit_entry, audit_event, audit_state
from yilian.audit.tiles import HASH, WIDTH

E = audit_event.c
X = audit_entry.c
C = audit_checkpoint.c
MAX_PROBLEMS = 100
ENTRY_KINDS = ("altered", "missing", "truncated")


@dataclass
class Problem:
    leaf: int | None  # the first entry concerned (None: the log as a whole)
    kind: str  # altered, missing, node, root, checkpoint, signature, truncated
    message: str


@dataclass
class Report:
    size: int = 0  # entries checked
    checkpoints: int = 0  # signed checkpoints checked
    problems: list[Problem] = field(default_factory=list)
    more: int = 0  # problems found beyond MAX_PROBLEMS

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more += 1

    @property
    def ok(self) -> bool:
        return not self.problems and not self.more

    @property
    def first(self) -> Problem | None:
        """The first tampered entry: an entry found altered, missing or cut off names itself; otherwise
        the first entry a rewritten node or signed root covers; otherwise a checkpoint problem."""
        for kinds in (ENTRY_KINDS, ("node", "root")):
            placed = [p for p in self.problems if p.kind in kinds and p.leaf is not None]
            if placed:
                return min(placed, key=lambda p: p.leaf)
        return self.problems[0] if self.problems else None


class _Tiles:
    """Stored node hashes read tile by tile, in order (one cursor position per level)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.current: dict[int, tuple[int, bytes]] = {}

    def get(self, level: int, index: int) -> bytes | None:
        tile = index // WIDTH
        cur = self.current.get(level)
        if cur is None or cur[0] != tile:
            from yilian.audit.tables import audit_hash

            a = audit_hash.c
            data = self.conn.execute(select(a.hashes).where(a.level == level, a.tile == tile)).scalar()
            cur = (tile, bytes(data or b""))
            self.current[level] = cur
        offset = (index % WIDTH) * HASH
        found = cur[1][offset : offset + HASH]
        return found if len(found) == HASH else None


def verify_log(log: AuditLog, kept: list[str] = (), public_key: bytes | None = None) -> Report:
    """Check the log; `kept` are checkpoint notes members kept outside the database."""
    report = Report()
    key = public_key if public_key is not None else log.key.public
    with log.engine.connect() as conn:
        signed = _checkpoints(conn, log, kept, key, report)
        size = int(conn.execute(select(audit_state.c.size).where(audit_state.c.id == 1)).scalar() or 0)
        count = _stream(conn, log, signed, report)
    report.size = count
    expected = max([size, *signed.keys()]) if signed else size
    if count < expected:
        report.add(
            Problem(
                count,
                "truncated",
                f"entries #{count} to #{expected - 1} are missing: the log was "
                f"truncated (signed checkpoints cover {expected} entries)",
            )
        )
    return report


def _checkpoints(conn: Connection, log: AuditLog, kept, key: bytes, report: Report) -> dict[int, bytes]:  # noqa: ANN001
    """Signed roots by size, from the database and from kept notes; bad signatures are problems."""
    notes = [(r.size, r.note, "the log") for r in conn.execute(select(C.size, C.note).order_by(C.size))]
    notes += [(None, note, "a kept copy") for note in kept]
    roots: dict[int, bytes] = {}
    for size, note, where in notes:
        try:
            cp = cps.parse(note)
        except ValueError as exc:
            report.add(Problem(None, "checkpoint", f"a checkpoint in {where} is unreadable: {exc}"))
            continue
        if not cps.verify(cp, log.suite, log.name, log.suite.signature.name, key) or (
            size is not None and cp.size != size
        ):
            report.add(
                Problem(
                    None,
                    "signature",
                    f"the checkpoint of size {cp.size} in {where} is not signed by the "
                    "log's key: it was forged or altered",
                )
            )
            continue
        if roots.get(cp.size, cp.root) != cp.root:
            report.add(
                Problem(
                    None, "checkpoint", f"two signed checkpoints of size {cp.size} disagree: the log forked"
                )
            )
        roots[cp.size] = cp.root
        report.checkpoints += 1
    return roots


def _stream(conn: Connection, log: AuditLog, signed: dict[int, bytes], report: Report) -> int:
    h = log.suite.hash
    tiles = _Tiles(conn)
    bad_nodes: set[int] = set()
    bad_leaves: list[int] = []  # entries found altered or missing

    def check_node(level: int, index: int, node: bytes) -> None:
        first, last = index << level, (index + 1) << level
        if not level or level in bad_nodes or any(first <= b < last for b in bad_leaves):
            return  # above an edited entry every node differs: the entry itself is the finding
        if tiles.get(level, index) != node:
            bad_nodes.add(level)
            report.add(
                Problem(
                    first,
                    "node",
                    f"stored tree node {index} at level {level} (entries #{first} to "
                    f"#{last - 1}) does not match the entries: tiles were rewritten",
                )
            )

    tree = CompactRange(h, check_node)
    stmt = (
        select(E.leaf, E.seq, E.user_id, E.action, X.entry)
        .join_from(audit_event, audit_entry, X.seq == E.seq)
        .where(E.leaf.is_not(None))
    )
    rows = conn.execution_options(yield_per=20_000).execute(stmt.order_by(E.leaf))
    for row in rows:
        while tree.size < row.leaf:  # a gap: entries were deleted
            missing = tree.size
            stored = tiles.get(0, missing)
            report.add(Problem(missing, "missing", f"entry #{missing} is missing (deleted)"))
            bad_leaves.append(missing)
            tree.append(stored or bytes(HASH))
            _at_checkpoint(tree, signed, report)
        leaf = h(b"\x00" + bytes(row.entry))
        if tiles.get(0, row.leaf) != leaf:
            report.add(
                Problem(
                    row.leaf,
                    "altered",
                    f"entry #{row.leaf} (seq {row.seq}, {row.action} by "
                    f"{row.user_id}) does not match its recorded hash: it was edited or moved",
                )
            )
            bad_leaves.append(row.leaf)
        tree.append(leaf)
        _at_checkpoint(tree, signed, report)
    return tree.size


def _at_checkpoint(tree: CompactRange, signed: dict[int, bytes], report: Report) -> None:
    want = signed.get(tree.size)
    if want is None or any(p.kind == "root" for p in report.problems) or tree.root() == want:
        return  # after the first mismatch every later root differs too: one problem says it
    start = _previous(signed, tree.size)
    report.add(
        Problem(
            start,
            "root",
            f"the entries no longer hash to the root signed at size {tree.size}: "
            f"an entry from #{start} to #{tree.size - 1} was changed (with its stored hashes)",
        )
    )


def _previous(signed: dict[int, bytes], size: int) -> int:
    """The size of the newest signed checkpoint before `size` (0 if none)."""
    return max((s for s in signed if s < size), default=0)

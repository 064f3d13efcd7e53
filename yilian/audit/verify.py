"""`yilian audit verify`: re-check the whole log and name the first tampered entry.

One streaming pass over the events in leaf order, a batch at a time (a batch's hashes are compared with
the stored ones as whole runs; entry by entry or node by node only where they differ):
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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from yilian.audit import checkpoint as cps
from yilian.audit.log import AuditLog
from yilian.audit.merkle import GrowingTree, Hash
from yilian.audit.tables import audit_checkpoint, audit_entry, audit_event, audit_state
from yilian.audit.tiles import HASH, WIDTH, read_range

E = audit_event.c
X = audit_entry.c
C = audit_checkpoint.c
MAX_PROBLEMS = 100
BATCH = 16_384  # entries hashed, folded and compared with the stored tiles at a time
ROOT_RANK = 64  # a signed root is checked after the nodes its last entry formed (levels rank 0..63)
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


class _Stored:
    """The stored node hashes a batch is compared with: one range of tiles per level and batch."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tiles: dict[int, dict[int, bytes]] = {}  # level -> tile -> hashes, from the latest range read

    def span(self, level: int, first: int, end: int) -> bytes:
        """Nodes [first, end) of a level, joined; b"" when one is not stored (then compare `node` by node)."""
        tiles = self.tiles[level] = read_range(self.conn, level, first, end)
        numbers = range(first // WIDTH, (end - 1) // WIDTH + 1)
        if len(tiles) != len(numbers) or any(len(tiles[t]) != WIDTH * HASH for t in numbers[:-1]):
            return b""  # a tile missing or cut short would shift the hashes after it
        start = (first % WIDTH) * HASH
        return b"".join(tiles[t] for t in numbers)[start : start + (end - first) * HASH]

    def node(self, level: int, index: int) -> bytes | None:
        tiles = self.tiles.setdefault(level, {})
        tile = index // WIDTH
        if tile not in tiles:
            tiles[tile] = read_range(self.conn, level, index, index + 1).get(tile, b"")
        offset = (index % WIDTH) * HASH
        found = tiles[tile][offset : offset + HASH]
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
    check = _Pass(conn, log.suite.hash, signed, report)
    stmt = (
        select(E.leaf, X.entry)  # the leaf index covers (leaf, seq): audit_event's rows are not read
        .join_from(audit_event, audit_entry, X.seq == E.seq)
        .where(E.leaf.is_not(None))
        .order_by(E.leaf)
    )
    for rows in conn.execution_options(yield_per=BATCH).execute(stmt).partitions():
        check.batch(rows)
    return check.tree.size


class _Pass:
    """The pass over the entries, a batch at a time. Whole batches are compared with the stored hashes as
    joined strings; only where they differ is each entry or node looked at. What is found is reported in
    the order a leaf-by-leaf pass finds it: by the position whose append formed it, then entry, nodes from
    level 1 up, signed root."""

    def __init__(self, conn: Connection, h: Hash, signed: dict[int, bytes], report: Report) -> None:
        self.conn, self.h, self.signed, self.report = conn, h, signed, report
        self.sizes = sorted(signed)
        self.stored = _Stored(conn)
        self.tree = GrowingTree(h)
        self.bad_nodes: set[int] = set()  # levels with a rewritten node reported (one each suffices)
        self.bad_leaves: list[int] = []  # entries found altered or missing: ascending (leaf order)
        self.found: list[tuple] = []  # (position, rank, report, what) of this batch, reported in order

    def batch(self, rows: list) -> None:
        """Check the next rows (leaf, entry), in leaf order."""
        old = self.tree.size
        self.tree.extend(self._leaves(rows))
        self._nodes(old)
        self._roots(old)
        for _position, _rank, report, what in sorted(self.found, key=lambda found: found[:2]):
            report(what)
        self.found.clear()

    def _leaves(self, rows: list) -> list[bytes]:
        """The batch's leaf hashes at the tree's next positions."""
        h = self.h
        hashes = [h(b"\x00" + entry) for _leaf, entry in rows]
        size, first, last = self.tree.size, rows[0].leaf, rows[-1].leaf
        if first == size and last == size + len(rows) - 1:  # leaf indexes are unique: no gap
            if b"".join(hashes) == self.stored.span(0, first, last + 1):
                return hashes
        elif last >= size:
            self.stored.span(0, size, last + 1)  # read the tiles for `_check_leaves`
        return self._check_leaves(rows, hashes)

    def _check_leaves(self, rows: list, hashes: list[bytes]) -> list[bytes]:
        """Entry by entry: a gap in the leaf indexes is a deleted entry (filled in with its stored hash, so
        the nodes above it are still checked); a leaf hash unlike the stored one, an edited or moved entry."""
        leaves: list[bytes] = []
        position = self.tree.size
        for (leaf, _entry), hashed in zip(rows, hashes, strict=True):
            while position < leaf:
                leaves.append(self.stored.node(0, position) or bytes(HASH))
                self.found.append((position, 0, self._missing, position))
                position += 1
            if self.stored.node(0, leaf) != hashed:
                self.found.append((position, 0, self._altered, leaf))
            leaves.append(hashed)
            position += 1
        return leaves

    def _nodes(self, old: int) -> None:
        """Compare the nodes the batch formed (level 1 up) with the stored ones, a level at a time."""
        size = self.tree.size
        for level in range(1, size.bit_length()):
            start, end = old >> level, size >> level
            if start == end or level in self.bad_nodes:
                continue
            first, nodes = self.tree.levels[level]
            formed = nodes[start - first :]
            if b"".join(formed) == self.stored.span(level, start, end):
                continue
            for index, node in enumerate(formed, start):
                if self.stored.node(level, index) != node:
                    self.found.append((((index + 1) << level) - 1, level, self._node, (level, index)))

    def _roots(self, old: int) -> None:
        """Recompute the tree head at each signed size the batch reached."""
        sizes = self.sizes[bisect_right(self.sizes, old) : bisect_right(self.sizes, self.tree.size)]
        for size in sizes:
            if self.tree.root(size) != self.signed[size]:
                self.found.append((size - 1, ROOT_RANK, self._root, size))

    def _missing(self, position: int) -> None:
        self.report.add(Problem(position, "missing", f"entry #{position} is missing (deleted)"))
        self.bad_leaves.append(position)

    def _altered(self, leaf: int) -> None:
        self.bad_leaves.append(leaf)
        if len(self.report.problems) >= MAX_PROBLEMS:
            self.report.more += 1  # only counted: spare the look-up
            return
        row = self.conn.execute(select(E.seq, E.user_id, E.action).where(E.leaf == leaf)).one()
        self.report.add(
            Problem(
                leaf,
                "altered",
                f"entry #{leaf} (seq {row.seq}, {row.action} by "
                f"{row.user_id}) does not match its recorded hash: it was edited or moved",
            )
        )

    def _node(self, where: tuple[int, int]) -> None:
        level, index = where
        first, last = index << level, (index + 1) << level
        above = bisect_left(self.bad_leaves, first)
        if level in self.bad_nodes or (above < len(self.bad_leaves) and self.bad_leaves[above] < last):
            return  # above an edited entry every node differs: the entry itself is the finding
        self.bad_nodes.add(level)
        self.report.add(
            Problem(
                first,
                "node",
                f"stored tree node {index} at level {level} (entries #{first} to "
                f"#{last - 1}) does not match the entries: tiles were rewritten",
            )
        )

    def _root(self, size: int) -> None:
        if any(p.kind == "root" for p in self.report.problems):
            return  # after the first mismatch every later root differs too: one problem says it
        start = _previous(self.signed, size)
        self.report.add(
            Problem(
                start,
                "root",
                f"the entries no longer hash to the root signed at size {size}: "
                f"an entry from #{start} to #{size - 1} was changed (with its stored hashes)",
            )
        )


def _previous(signed: dict[int, bytes], size: int) -> int:
    """The size of the newest signed checkpoint before `size` (0 if none)."""
    return max((s for s in signed if s < size), default=0)

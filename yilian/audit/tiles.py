"""The Merkle tree's complete-node hashes, stored in tiles: one row holds up to 256 consecutive hashes of
one level, so appending a batch rewrites a few rows per level and a proof reads a few rows in one query.

A full tile never changes again, so readers cache full tiles; only the right-edge tile of each level is
rewritten as the log grows (the approach of Go's transparency-log tiles, simplified to every level).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import Connection, and_, or_, select

from yilian.audit.tables import audit_hash
from yilian.store import dialect

A = audit_hash.c
WIDTH = 256  # hashes per tile
HASH = 32  # bytes per hash


def tile_of(index: int) -> tuple[int, int]:
    """(tile number, byte offset) of node `index` within its level."""
    return index // WIDTH, (index % WIDTH) * HASH


class TileCache:
    """Full tiles by (level, tile); shared by the readers of one log (full tiles are immutable)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self.tiles: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def get(self, key: tuple[int, int]) -> bytes | None:
        tile = self.tiles.get(key)
        if tile is not None:
            self.tiles.move_to_end(key)
        return tile

    def put(self, key: tuple[int, int], tile: bytes) -> None:
        if len(tile) != WIDTH * HASH:
            return  # a partial tile will grow: never cached
        self.tiles[key] = tile
        if len(self.tiles) > self.capacity:
            self.tiles.popitem(last=False)


def read_tiles(conn: Connection, keys: Iterable[tuple[int, int]], cache: TileCache | None = None) -> dict:
    """Tiles by (level, tile), from the cache or in one query."""
    found: dict[tuple[int, int], bytes] = {}
    missing = []
    for key in set(keys):
        tile = cache.get(key) if cache else None
        if tile is None:
            missing.append(key)
        else:
            found[key] = tile
    if missing:
        cond = or_(*(and_(A.level == lv, A.tile == t) for lv, t in missing))
        for row in conn.execute(select(A.level, A.tile, A.hashes).where(cond)):
            found[(row.level, row.tile)] = bytes(row.hashes)
            if cache:
                cache.put((row.level, row.tile), bytes(row.hashes))
    return found


class StoredNodes:
    """`merkle.Nodes` over the stored tiles: `prefetch` the nodes a proof needs, then `node` answers."""

    def __init__(self, conn: Connection, cache: TileCache | None = None) -> None:
        self.conn, self.cache = conn, cache
        self.tiles: dict[tuple[int, int], bytes] = {}

    def prefetch(self, needed: Iterable[tuple[int, int]]) -> None:
        keys = {(level, index // WIDTH) for level, index in needed}
        self.tiles.update(read_tiles(self.conn, keys - self.tiles.keys(), self.cache))

    def node(self, level: int, index: int) -> bytes:
        tile, offset = tile_of(index)
        if (level, tile) not in self.tiles:
            self.prefetch([(level, index)])
        data = self.tiles.get((level, tile), b"")
        if len(data) < offset + HASH:
            raise LookupError(f"the audit log has no node {index} at level {level}")
        return data[offset : offset + HASH]


class Recorder:
    """A `merkle.Nodes` that only notes which nodes are asked for (first pass of a proof)."""

    def __init__(self) -> None:
        self.needed: set[tuple[int, int]] = set()

    def node(self, level: int, index: int) -> bytes:
        self.needed.add((level, index))
        return bytes(HASH)


def append_nodes(conn: Connection, new: dict[int, tuple[int, list[bytes]]]) -> None:
    """Write newly completed nodes: level -> (first index, hashes). The right-edge tile of each level is
    read, extended and written back; full new tiles are inserted."""
    edges = [(level, first // WIDTH) for level, (first, _h) in new.items() if first % WIDTH]
    existing = read_tiles(conn, edges)
    rows: list[tuple[int, int, bytes]] = []
    for level, (first, hashes) in new.items():
        blob = b"".join(hashes)
        tile, offset = tile_of(first)
        head = existing.get((level, tile), b"")[:offset]
        if len(head) != offset:
            raise RuntimeError(f"audit tiles are inconsistent at level {level}, tile {tile}")
        data = head + blob
        step = WIDTH * HASH
        for i in range(0, len(data), step):
            rows.append((level, tile + i // step, data[i : i + step]))
    upsert(conn, rows)


def upsert(conn: Connection, rows: list[tuple[int, int, bytes]]) -> None:
    if not rows:
        return
    marks = dialect.placeholders(conn, 3)
    conn.exec_driver_sql(
        f"INSERT INTO audit_hash (level, tile, hashes) VALUES ({marks}) "
        "ON CONFLICT (level, tile) DO UPDATE SET hashes = excluded.hashes",
        rows,
    )


def read_range(conn: Connection, level: int, first: int, end: int) -> dict[int, bytes]:
    """The stored tiles holding nodes [first, end) of one level, by tile number, in one range query."""
    stmt = select(A.tile, A.hashes).where(
        A.level == level, A.tile >= first // WIDTH, A.tile <= (end - 1) // WIDTH
    )
    return {row.tile: bytes(row.hashes) for row in conn.execute(stmt)}

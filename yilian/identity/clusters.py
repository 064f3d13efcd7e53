"""Guarded clustering: records joined by links into persons, strongest links first, never joining two
persons who hold different valid resident IDs (a chain A-B-C must not make A and C one person when their
IDs say they are two)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class GuardedClusters:
    def __init__(self, ids: dict[Hashable, str | None]) -> None:
        """`ids`: each record's valid, self-consistent resident ID (None when it has none)."""
        self.parent: dict[Hashable, Hashable] = {}
        self.ids: dict[Hashable, frozenset[str]] = {
            k: frozenset([v]) if v else frozenset() for k, v in ids.items()
        }

    def find(self, x: Hashable) -> Hashable:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def conflict(self, a: Hashable, b: Hashable) -> bool:
        ia, ib = self.ids.get(self.find(a), frozenset()), self.ids.get(self.find(b), frozenset())
        return bool(ia and ib and not ia & ib)

    def union(self, a: Hashable, b: Hashable, force: bool = False) -> bool:
        """Join the two records' persons; False (nothing done) when their IDs conflict, unless forced."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not force and self.conflict(ra, rb):
            return False
        self.parent[rb] = ra
        self.ids[ra] = self.ids.get(ra, frozenset()) | self.ids.pop(rb, frozenset())
        return True

    def groups(self, nodes: Iterable[Hashable]) -> dict[Hashable, list[Hashable]]:
        out: dict[Hashable, list[Hashable]] = {}
        for n in nodes:
            out.setdefault(self.find(n), []).append(n)
        return out


def own_id(features: dict) -> str | None:
    """A record's resident ID when it is valid and agrees with the record (not a parent's)."""
    if features.get("rid_ok") and features.get("rid_state") in ("ok", "swapped", "typo", "unknown"):
        return features["rid"]
    return None

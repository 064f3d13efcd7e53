"""Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162 (Certificate Transparency 2.0)
defines them, for any 32-byte hash function (SHA-256 or SM3).

Leaf hash = H(0x00 || entry); node hash = H(0x01 || left || right); the tree over n leaves splits at the
largest power of two smaller than n. Proofs are computed from *complete* subtree hashes only: a
`Nodes` source answers `node(level, index)`, the hash of leaves [index·2^level, (index+1)·2^level), which
the log keeps in tiles (audit/tiles.py). Right-edge subtrees of a tree that is not a power of two are
folded from complete ones, so a proof costs O(log n) node look-ups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

Hash = Callable[[bytes], bytes]


class Nodes(Protocol):
    def node(self, level: int, index: int) -> bytes: ...


def leaf_hash(h: Hash, entry: bytes) -> bytes:
    return h(b"\x00" + entry)


def node_hash(h: Hash, left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def reference_root(h: Hash, leaves: list[bytes]) -> bytes:
    """MTH(D[n]) computed straight from RFC 9162 §2.1.1 (recursive; for tests and small trees)."""
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaf_hash(h, leaves[0])
    k = split(n)
    return node_hash(h, reference_root(h, leaves[:k]), reference_root(h, leaves[k:]))


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): appending is O(1) amortised, and the
    tree head of any prefix is their right-to-left fold. `on_node(level, index, hash)` sees every complete
    node as it is formed (the log writes them to tiles; `verify` compares them with the stored ones)."""

    def __init__(self, h: Hash, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        self.h = h
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []  # (level, hash), levels strictly decreasing
        self.on_node = on_node

    def append(self, leaf: bytes) -> None:
        """Append a leaf *hash*."""
        index, level, node = self.size, 0, leaf
        if self.on_node:
            self.on_node(0, index, node)
        self.size += 1
        while self.stack and self.stack[-1][0] == level:
            _, left = self.stack.pop()
            node = self.h(b"\x01" + left + node)
            level += 1
            index >>= 1
            if self.on_node:
                self.on_node(level, index, node)
        self.stack.append((level, node))

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.stack:
            return self.h(b"")
        node = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            node = self.h(b"\x01" + left + node)
        return node


class GrowingTree:
    """The tree grown a batch of leaves at a time (what `CompactRange` does a leaf at a time, without a
    Python call per node: `verify` runs it over millions of entries).

    After `extend`, `levels[level]` is (index of its first node, nodes): the nodes the batch formed at that
    level, preceded by the level's node left unpaired by the batches before (a node of the compact range).
    So every complete node the batch formed, and the tree head of every size the batch reached, is at hand.
    """

    def __init__(self, h: Hash) -> None:
        self.h = h
        self.size = 0
        self.levels: list[tuple[int, list[bytes]]] = []

    def extend(self, leaves: list[bytes]) -> None:
        """Append leaf *hashes*."""
        h, old = self.h, self.size
        self.size += len(leaves)
        levels: list[tuple[int, list[bytes]]] = []
        first, nodes = old, leaves
        for level in range(self.size.bit_length()):
            if (old >> level) & 1:  # the level's last node before this batch is still unpaired
                first, nodes = first - 1, [self.levels[level][1][-1], *nodes]
            levels.append((first, nodes))
            pairs = zip(nodes[::2], nodes[1::2], strict=False)  # an odd last node waits for its sibling
            first, nodes = first // 2, [h(b"\x01" + left + right) for left, right in pairs]
        self.levels = levels

    def node(self, level: int, index: int) -> bytes:
        first, nodes = self.levels[level]
        return nodes[index - first]

    def root(self, size: int) -> bytes:
        """The tree head of the first `size` leaves, for any size reached by the latest batch."""
        if not size:
            return self.h(b"")
        levels = [level for level in range(size.bit_length()) if size >> level & 1]
        parts = [self.node(level, (size >> level) - 1) for level in levels]  # the compact range of `size`
        node = parts[0]
        for left in parts[1:]:
            node = self.h(b"\x01" + left + node)
        return node


def subtree_root(h: Hash, nodes: Nodes, start: int, end: int) -> bytes:
    """MTH(D[start:end]) where the range is a subtree of the tree: `start` is a multiple of the largest
    power of two ≤ end - start, so the range is complete subtrees in decreasing size."""
    parts: list[bytes] = []
    pos = start
    while pos < end:
        level = (end - pos).bit_length() - 1
        parts.append(nodes.node(level, pos >> level))
        pos += 1 << level
    node = parts[-1]
    for left in reversed(parts[:-1]):
        node = node_hash(h, left, node)
    return node


def root(h: Hash, nodes: Nodes, size: int) -> bytes:
    return h(b"") if size == 0 else subtree_root(h, nodes, 0, size)


def inclusion_proof(h: Hash, nodes: Nodes, index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:  # walk down from the root, collecting the sibling of each step
        k = split(hi - lo)
        if index < lo + k:
            path.append(subtree_root(h, nodes, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(h, nodes, lo, lo + k))
            lo += k
    return path[::-1]


def consistency_proof(h: Hash, nodes: Nodes, old: int, new: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to {new}")
    if old == new:
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, new, old, True
    while True:  # SUBPROOF(m, D[lo:hi], complete), iteratively
        n = hi - lo
        if m == n:
            if not complete:
                proof.append(subtree_root(h, nodes, lo, hi))
            break
        k = split(n)
        if m <= k:
            proof.append(subtree_root(h, nodes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_root(h, nodes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    return proof[::-1]


def root_from_inclusion(h: Hash, index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None when the proof is malformed."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(h, p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(h, r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    h: Hash, index: int, size: int, leaf: bytes, proof: list[bytes], root_hash: bytes
) -> bool:
    return root_from_inclusion(h, index, size, leaf, proof) == root_hash


def verify_consistency(
    h: Hash, old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old > new or old == 0:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the proof's implicit first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(h, c, fr)
            sr = node_hash(h, c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(h, sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root

"""The Merkle functions against RFC 9162's recursive definitions (tests/unit/audit/reference.py)."""

from __future__ import annotations

import hashlib

import merkle_reference as ref
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yilian.audit import merkle
from yilian.crypto.guomi import sm3

H = ref.h


class ListNodes:
    """Complete-subtree hashes computed from the entries themselves."""

    def __init__(self, entries: list[bytes], hash_=H) -> None:  # noqa: ANN001
        self.entries, self.hash = entries, hash_
        self.asked = 0

    def node(self, level: int, index: int) -> bytes:
        self.asked += 1
        lo = index << level
        hi = lo + (1 << level)
        assert hi <= len(self.entries), "only complete subtrees are asked for"
        return ref.mth(self.entries[lo:hi], self.hash)


def entries(n: int) -> list[bytes]:
    return [f"event {i}".encode() for i in range(n)]


def test_known_answers_of_the_empty_and_one_leaf_trees() -> None:
    assert merkle.reference_root(H, []) == hashlib.sha256(b"").digest()
    assert merkle.reference_root(H, [b""]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"  # RFC 6962 test vector
    )


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 100])
def test_compact_range_and_stored_roots_match_the_reference(n: int) -> None:
    data = entries(n)
    tree = merkle.CompactRange(H)
    tree.extend(merkle.leaf_hash(H, e) for e in data)
    assert tree.root() == ref.mth(data) == merkle.reference_root(H, data)
    assert merkle.root(H, ListNodes(data), n) == ref.mth(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_a_tree_grown_in_batches_forms_the_nodes_and_heads_of_the_compact_range(batches: list[int]) -> None:
    data = entries(sum(batches))
    formed: list[tuple[int, int, bytes]] = []
    merkle.CompactRange(H, lambda *node: formed.append(node)).extend(merkle.leaf_hash(H, e) for e in data)
    tree, grown = merkle.GrowingTree(H), []
    for n in batches:
        old = tree.size
        tree.extend([merkle.leaf_hash(H, e) for e in data[old : old + n]])
        for level, (first, nodes) in enumerate(tree.levels):
            new = range(old >> level, tree.size >> level)  # the batch's nodes, after the level's carry
            assert first + len(nodes) == new.stop
            grown += [(level, i, nodes[i - first]) for i in new]
        for size in range(old + 1, tree.size + 1):
            assert tree.root(size) == ref.mth(data[:size])
    assert sorted(grown) == sorted(formed)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proofs_equal_the_reference_and_verify(case: tuple[int, int]) -> None:
    n, m = case
    data = entries(n)
    nodes = ListNodes(data)
    proof = merkle.inclusion_proof(H, nodes, m, n)
    assert proof == ref.path(m, data)
    root = ref.mth(data)
    leaf = merkle.leaf_hash(H, data[m])
    assert merkle.verify_inclusion(H, m, n, leaf, proof, root)
    assert not merkle.verify_inclusion(H, m, n, merkle.leaf_hash(H, b"forged"), proof, root)
    if proof:
        assert not merkle.verify_inclusion(H, m, n, leaf, proof[:-1], root)
    if n > 1:
        assert not merkle.verify_inclusion(H, (m + 1) % n, n, leaf, proof, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_equal_the_reference_and_verify(case: tuple[int, int]) -> None:
    old, new = case
    data = entries(new)
    proof = merkle.consistency_proof(H, ListNodes(data), old, new)
    assert proof == ref.proof(old, data)
    old_root, new_root = ref.mth(data[:old]), ref.mth(data)
    assert merkle.verify_consistency(H, old, new, old_root, new_root, proof)
    if old < new:
        forged = ref.mth([*data[: old - 1], b"forged"])
        assert not merkle.verify_consistency(H, old, new, forged, new_root, proof)
        assert not merkle.verify_consistency(H, old, new, old_root, new_root, proof[:-1])


def test_a_proof_asks_for_logarithmically_many_nodes() -> None:
    data = entries(1000)
    nodes = ListNodes(data)
    merkle.inclusion_proof(H, nodes, 517, 1000)
    assert nodes.asked <= 2 * 10


def test_sm3_trees_follow_the_same_rules() -> None:
    data = entries(13)
    nodes = ListNodes(data, sm3)
    proof = merkle.inclusion_proof(sm3, nodes, 6, 13)
    assert proof == ref.path(6, data, sm3)
    assert merkle.verify_inclusion(sm3, 6, 13, merkle.leaf_hash(sm3, data[6]), proof, ref.mth(data, sm3))


def test_out_of_range_requests_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(H, ListNodes(entries(3)), 3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_proof(H, ListNodes(entries(3)), 0, 3)

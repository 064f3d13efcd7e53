"""RFC 9162 §2.1 written out as its recursive definitions, over plain lists: the reference the tile-based
proofs are checked against."""

from __future__ import annotations

import hashlib


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(d: list[bytes], hash_=h) -> bytes:
    n = len(d)
    if n == 0:
        return hash_(b"")
    if n == 1:
        return hash_(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hash_(b"\x01" + mth(d[:k], hash_) + mth(d[k:], hash_))


def path(m: int, d: list[bytes], hash_=h) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return path(m, d[:k], hash_) + [mth(d[k:], hash_)]
    return path(m - k, d[k:], hash_) + [mth(d[:k], hash_)]


def proof(m: int, d: list[bytes], hash_=h) -> list[bytes]:
    return _subproof(m, d, True, hash_)


def _subproof(m: int, d: list[bytes], b: bool, hash_) -> list[bytes]:  # noqa: ANN001
    n = len(d)
    if m == n:
        return [] if b else [mth(d, hash_)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return _subproof(m, d[:k], b, hash_) + [mth(d[k:], hash_)]
    return _subproof(m - k, d[k:], False, hash_) + [mth(d[:k], hash_)]

"""Comparisons: for each field, ordered levels from "agrees exactly" down to "disagrees".

Every level is written twice, as a SQL condition on `l` and `r` (Splink runs it in DuckDB to train the
model and for batch linkage) and as a Python test on two feature dicts (the real-time scorer). The first
level whose test holds is the pair's level for that field; tests/unit/identity/test_parity.py checks the
two forms agree on thousands of pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Test = Callable[[dict, dict], bool]


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    test: Test
    null: bool = False  # "cannot compare": no evidence either way
    tf: str | None = None  # adjust the weight by how common the agreeing value is (a feature column)
    agree: bool = False  # counts as agreement on this field for the decision rules


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]
    description: str = ""

    def level_of(self, a: dict, b: dict) -> int:
        """The index of the first level that holds (the last level is "else")."""
        for i, level in enumerate(self.levels):
            if level.test(a, b):
                return i
        return len(self.levels) - 1


@dataclass(frozen=True)
class BlockRule:
    """Candidate pairs share a value of every column (array columns: any element)."""

    name: str
    columns: tuple[str, ...]
    arrays: tuple[str, ...] = ()

    def sql(self) -> str:
        return " and ".join(f"l.{c} = r.{c}" for c in self.columns)


@dataclass(frozen=True)
class Spec:
    """A linkage model's shape: what is compared, how candidates are found, which column is the id."""

    comparisons: tuple[Comparison, ...]
    blocking: tuple[BlockRule, ...]
    unique_id: str = "uid"
    training_blocks: tuple[str, ...] = ()  # EM sessions, each on pairs this SQL blocks
    deterministic: tuple[str, ...] = ()  # rules that find near-certain matches (for the prior)
    extra: dict = field(default_factory=dict)

    def vector(self, a: dict, b: dict) -> tuple[int, ...]:
        return tuple(c.level_of(a, b) for c in self.comparisons)


# ---- building blocks for tests (Python) and their SQL twins


def null_either(*cols: str) -> Level:
    sql = " or ".join(f"l.{c} is null or r.{c} is null" for c in cols)
    return Level("null", sql, lambda a, b: any(a.get(c) is None or b.get(c) is None for c in cols), null=True)


def exact(col: str, label: str = "exact", tf: str | None = None, agree: bool = True) -> Level:
    return Level(label, f"l.{col} = r.{col}", lambda a, b: _eq(a.get(col), b.get(col)), tf=tf, agree=agree)


def _eq(x: object, y: object) -> bool:
    return x is not None and x == y


def overlap(col: str, label: str, tf: str | None = None, agree: bool = True) -> Level:
    """Two array columns share an element."""
    return Level(
        label,
        f"list_has_any(l.{col}, r.{col})",
        lambda a, b: bool(a.get(col) and b.get(col) and set(a[col]) & set(b[col])),
        tf=tf,
        agree=agree,
    )


def hamming_at_most(x: str | None, y: str | None, k: int) -> bool:
    if x is None or y is None or len(x) != len(y):
        return False
    return sum(p != q for p, q in zip(x, y, strict=True)) <= k


def levenshtein(x: str, y: str) -> int:
    if len(x) < len(y):
        x, y = y, x
    previous = list(range(len(y) + 1))
    for i, cx in enumerate(x, 1):
        current = [i]
        for j, cy in enumerate(y, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cx != cy)))
        previous = current
    return previous[-1]


def damerau_levenshtein(x: str, y: str) -> int:
    """Optimal string alignment distance (edits, with adjacent swaps costing one), as DuckDB computes."""
    d = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i in range(len(x) + 1):
        d[i][0] = i
    for j in range(len(y) + 1):
        d[0][j] = j
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            cost = x[i - 1] != y[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def jaro_winkler(x: str, y: str) -> float:
    """Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters), DuckDB's definition."""
    if x == y:
        return 1.0
    if not x or not y:
        return 0.0
    window = max(max(len(x), len(y)) // 2 - 1, 0)
    x_hits, y_hits = [False] * len(x), [False] * len(y)
    matches = 0
    for i, cx in enumerate(x):
        for j in range(max(0, i - window), min(len(y), i + window + 1)):
            if not y_hits[j] and y[j] == cx:
                x_hits[i] = y_hits[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    xs = [c for c, hit in zip(x, x_hits, strict=True) if hit]
    ys = [c for c, hit in zip(y, y_hits, strict=True) if hit]
    transpositions = sum(p != q for p, q in zip(xs, ys, strict=True)) / 2
    jaro = (matches / len(x) + matches / len(y) + (matches - transpositions) / matches) / 3
    prefix = 0
    for p, q in zip(x[:4], y[:4], strict=False):
        if p != q:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def else_level() -> Level:
    return Level("else", "ELSE", lambda a, b: True)


def vectors(spec: Spec, pairs: Sequence[tuple[dict, dict]]) -> list[tuple[int, ...]]:
    return [spec.vector(a, b) for a, b in pairs]

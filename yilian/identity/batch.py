"""Batch linkage over a whole population: Splink 5 predicts the blocked pairs in DuckDB with the trained
model, our rules decide each pair, guarded clustering turns automatic links into persons.

Cost grows with the blocked pairs, not with the square of the records: the blocking rules (settings.py)
keep a million records to a few million pairs. `progress(stage, done, total)` reports each stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from yilian.identity.clusters import GuardedClusters, own_id
from yilian.identity.compare import Spec
from yilian.identity.decide import AUTO, REVIEW, Decision, decide_levels
from yilian.identity.model import Model
from yilian.identity.train import arrow_table, linker_for

Progress = Callable[[str, int, int], None]


@dataclass
class Pair:
    a: str
    b: str
    weight: float
    vector: tuple[int, ...]
    decision: Decision


@dataclass
class BatchResult:
    auto: list[Pair] = field(default_factory=list)
    review: list[Pair] = field(default_factory=list)
    persons: dict[str, list[str]] = field(default_factory=dict)  # cluster key -> record ids
    scored_pairs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def splink_gamma_to_level(spec: Spec) -> list[dict[int, int]]:
    """Splink numbers a comparison's levels from the top non-null one down to 0 (null is -1)."""
    out = []
    for comp in spec.comparisons:
        non_null = [i for i, lv in enumerate(comp.levels) if not lv.null]
        mapping = {len(non_null) - 1 - j: i for j, i in enumerate(non_null)}
        nulls = [i for i, lv in enumerate(comp.levels) if lv.null]
        if nulls:
            mapping[-1] = nulls[0]
        out.append(mapping)
    return out


def predict(spec: Spec, model: Model, table: pa.Table, keep_sql: str = "") -> pa.Table:
    """Scored pairs (uid_l, uid_r, match_weight, gamma_<comparison>...) at or above the review weight,
    plus those `keep_sql` keeps whatever their weight (the rules that force a review)."""
    linker = linker_for(spec, table, model.params)
    predictions = linker.inference.predict(warning_mode="never")
    gammas = ", ".join(f"gamma_{c.name}" for c in spec.comparisons)
    where = f"match_weight >= {model.review_weight}" + (f" or ({keep_sql})" if keep_sql else "")
    uid = spec.unique_id
    kept = predictions.query_sql(
        f"select {uid}_l as a, {uid}_r as b, match_weight, {gammas} from {{this}} where {where}"
    )
    return kept.as_pyarrow_table()


Decider = Callable[[dict, float, Model], Decision]


def link(
    spec: Spec,
    model: Model,
    rows: Sequence[dict],
    progress: Progress | None = None,
    decider: Decider = decide_levels,
) -> BatchResult:
    """Link `rows` (feature dicts with the spec's unique id) into persons."""
    result, clock = BatchResult(), time.perf_counter()
    step = _stepper(result, progress)
    from yilian.identity.settings import FEATURE_COLUMNS

    columns = [c for c in FEATURE_COLUMNS if any(c in r for r in rows[:100])] or list(rows[0].keys())
    table = arrow_table(rows, [c for c in columns if c != spec.unique_id], spec.unique_id)
    clock = step("prepare", clock, len(rows))
    same_id = _same_id_sql(spec)
    model = model.for_population(len(rows))
    pairs = predict(spec, model, table, same_id)
    result.scored_pairs = pairs.num_rows
    clock = step("predict", clock, pairs.num_rows)
    decided = decide_pairs(spec, model, pairs, decider)
    clock = step("decide", clock, len(decided))
    ids = {r[spec.unique_id]: own_id(r) for r in rows}  # no resident IDs in other specs: no guard
    result.auto, result.review, result.persons = cluster(ids, decided)
    step("cluster", clock, len(result.persons))
    return result


def _same_id_sql(spec: Spec) -> str:
    """Pairs at the resident ID's "exact" level are kept whatever their weight (same-ID rules)."""
    for comp, mapping in zip(spec.comparisons, splink_gamma_to_level(spec), strict=True):
        if comp.name == "resident_id":
            exact = next(i for i, lv in enumerate(comp.levels) if lv.label == "exact")
            gamma = next(g for g, i in mapping.items() if i == exact)
            return f"gamma_resident_id = {gamma}"
    return ""


def decide_pairs(spec: Spec, model: Model, pairs: pa.Table, decider: Decider = decide_levels) -> list[Pair]:
    mappings = splink_gamma_to_level(spec)
    names = [c.name for c in spec.comparisons]
    labels_of: dict[tuple[int, ...], dict[str, str]] = {}
    columns = [pairs.column(f"gamma_{n}").to_pylist() for n in names]
    out = []
    for row, (a, b, w) in enumerate(
        zip(
            pairs.column("a").to_pylist(),
            pairs.column("b").to_pylist(),
            pairs.column("match_weight").to_pylist(),
            strict=True,
        )
    ):
        vector = tuple(mappings[i][col[row]] for i, col in enumerate(columns))
        labels = labels_of.get(vector)
        if labels is None:
            labels = labels_of[vector] = {
                n: spec.comparisons[i].levels[k].label
                for i, (n, k) in enumerate(zip(names, vector, strict=True))
            }
        out.append(Pair(a, b, w, vector, decider(labels, w, model)))
    return out


def cluster(ids: dict[str, str | None], pairs: list[Pair]) -> tuple[list[Pair], list[Pair], dict]:
    """Automatic links strongest first; one that would join two different valid IDs becomes a review."""
    clusters = GuardedClusters(ids)
    auto, review = [], []
    for p in sorted(pairs, key=lambda p: -p.weight):
        if p.decision.outcome == AUTO:
            if clusters.union(p.a, p.b):
                auto.append(p)
            else:
                review.append(Pair(p.a, p.b, p.weight, p.vector, Decision(REVIEW, ("cluster-ids-conflict",))))
        elif p.decision.outcome == REVIEW:
            review.append(p)
    return auto, review, clusters.groups(ids)


def _stepper(result: BatchResult, progress: Progress | None):  # noqa: ANN202
    def step(stage: str, since: float, count: int) -> float:
        now = time.perf_counter()
        result.seconds[stage] = round(now - since, 3)
        if progress:
            progress(stage, count, count)
        return now

    return step

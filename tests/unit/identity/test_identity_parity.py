"""The real-time scorer and Splink agree: the same comparison levels and the same match weights for every
pair Splink's blocking finds, on a synthetic population (DuckDB in memory; nothing downloaded)."""

from __future__ import annotations

from collections import Counter

import pytest

from yilian.identity import batch, block, evaluate
from yilian.identity import model as models
from yilian.identity.normalize import features
from yilian.identity.score import score
from yilian.identity.settings import FEATURE_COLUMNS, PERSON_SPEC
from yilian.identity.synthetic import build_population
from yilian.identity.train import arrow_table, train


@pytest.fixture(scope="module")
def population():
    pop = build_population(3000, seed=11)
    return pop, [{**features(p), "uid": p["id"]} for _m, p in pop.patients]


def test_splink_and_the_realtime_scorer_agree(population):
    _pop, rows = population
    model = models.default(PERSON_SPEC)
    loose = models.Model(model.prior, model.comparisons, review_weight=-1e9, params=model.params)
    pairs = batch.predict(PERSON_SPEC, loose, arrow_table(rows, FEATURE_COLUMNS)).to_pylist()
    counts = {c: Counter(r[c] for r in rows if r.get(c)) for c in ("name_chars", "name_key")}
    totals = {c: sum(v.values()) for c, v in counts.items()}

    def tf(column, value):
        return counts[column][value] / totals[column] if value is not None and counts[column][value] else None

    by_id = {r["uid"]: r for r in rows}
    mappings = batch.splink_gamma_to_level(PERSON_SPEC)
    assert len(pairs) > 1000
    for p in pairs:
        ours = score(PERSON_SPEC, loose, by_id[p["a"]], by_id[p["b"]], tf)
        splink = tuple(mappings[i][p[f"gamma_{c.name}"]] for i, c in enumerate(PERSON_SPEC.comparisons))
        assert ours.vector == splink
        assert ours.weight == pytest.approx(p["match_weight"], abs=1e-6)


def test_blocking_keys_find_the_pairs_splink_blocks(population):
    _pop, rows = population
    loose = models.Model(
        0.001,
        models.default(PERSON_SPEC).comparisons,
        review_weight=-1e9,
        params=models.default(PERSON_SPEC).params,
    )
    splink = {
        tuple(sorted((p["a"], p["b"])))
        for p in batch.predict(PERSON_SPEC, loose, arrow_table(rows, FEATURE_COLUMNS)).to_pylist()
    }
    by_key: dict[str, list[str]] = {}
    for r in rows:
        for k in block.keys(PERSON_SPEC, r):
            by_key.setdefault(k, []).append(r["uid"])
    ours = {tuple(sorted((a, b))) for ids in by_key.values() for a in ids for b in ids if a != b}
    assert ours == splink


def test_training_learns_a_guarded_model_that_links_the_population(population):
    pop, rows = population
    params = train(PERSON_SPEC, arrow_table(rows, FEATURE_COLUMNS), max_pairs=2e5)
    model = models.from_splink(params, PERSON_SPEC)
    levels = dict(model.comparisons)
    family_only = next(lv for lv in levels["name"] if lv.label == "family only")
    assert family_only.m <= 0.002  # the household guard
    result = batch.link(PERSON_SPEC, model, rows)
    truth = evaluate.true_pairs(pop.truth)
    found = evaluate.scores(evaluate.cluster_pairs(result.persons.values()), truth)
    assert found["false_links"] == 0 and found["f1"] > 0.97

"""The rules that override the score."""

from __future__ import annotations

import pytest

from yilian.identity import model as models
from yilian.identity.decide import AUTO, NONE, REVIEW, decide_levels
from yilian.identity.settings import PERSON_SPEC

MODEL = models.default(PERSON_SPEC)
SAME = {"name": "characters", "resident_id": "exact", "birth": "exact", "sex": "exact", "contact": "phone"}


@pytest.mark.parametrize("changes,weight,outcome,reason", [
    ({}, 40, AUTO, "weight-auto"),
    ({}, 8, REVIEW, "weight-review"),
    ({}, 1, NONE, "weight-none"),
    ({"birth": "else"}, 40, REVIEW, "same-id-conflict"),
    ({"sex": "else"}, 40, REVIEW, "same-id-conflict"),
    ({"name": "family only"}, 40, REVIEW, "same-id-other-name"),
    ({"resident_id": "both valid, different"}, 40, REVIEW, "two-valid-ids"),
    ({"resident_id": "null", "name": "family, one given character"}, 40, REVIEW, "needs-name-or-id"),
    ({"resident_id": "null", "name": "family only"}, 40, NONE, "household"),
    ({"resident_id": "null", "name": "pinyin"}, 40, AUTO, "weight-auto"),
    ({"resident_id": "near (one mistyped)", "name": "null"}, 40, AUTO, "weight-auto"),
])  # fmt: skip
def test_rules(changes, weight, outcome, reason):
    d = decide_levels({**SAME, **changes}, weight, MODEL)
    assert (d.outcome, d.reasons[0] if d.reasons else "") == (outcome, reason)


def test_thresholds_are_the_administrators():
    strict = models.Model(MODEL.prior, MODEL.comparisons, auto_weight=50, review_weight=30)
    assert decide_levels(SAME, 40, strict).outcome == REVIEW

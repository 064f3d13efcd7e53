"""Fellegi-Sunter scoring of one pair with a trained model: the real-time path (no SQL, no Splink).

The match weight is log2 of the prior odds plus, for every comparison, log2(m/u) of the level the pair
falls in; a level with a term-frequency column replaces its u by how common the agreeing value is
(exactly as Splink computes it, so batch and real-time weights agree).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from yilian.identity.compare import Spec
from yilian.identity.model import Model

TermFrequency = Callable[[str, object], float | None]  # (column, value) -> share of records with it


@dataclass(frozen=True)
class FieldEvidence:
    field: str
    level: int
    label: str
    weight: float  # log2(m/u), term-frequency adjustment included
    left: object = None
    right: object = None


@dataclass(frozen=True)
class Score:
    weight: float
    vector: tuple[int, ...]
    fields: tuple[FieldEvidence, ...] = field(default_factory=tuple)

    @property
    def probability(self) -> float:
        return probability(self.weight)

    def level(self, name: str) -> str | None:
        return next((f.label for f in self.fields if f.field == name), None)


def probability(weight: float) -> float:
    if weight > 60:
        return 1.0
    odds = 2.0**weight
    return odds / (1 + odds)


def score(spec: Spec, model: Model, a: dict, b: dict, tf: TermFrequency | None = None) -> Score:
    total = model.prior_weight
    vector, fields = [], []
    for i, comp in enumerate(spec.comparisons):
        k = comp.level_of(a, b)
        params = model.levels(i)[k]
        w = params.weight
        if params.tf_column and params.tf_weight and tf is not None and not params.null:
            w += _tf_adjustment(params, tf, a.get(params.tf_column), b.get(params.tf_column))
        total += w
        vector.append(k)
        shown = _shown(comp.name)
        fields.append(FieldEvidence(comp.name, k, params.label, round(w, 3), a.get(shown), b.get(shown)))
    return Score(total, tuple(vector), tuple(fields))


def _tf_adjustment(params, tf: TermFrequency, left: object, right: object) -> float:  # noqa: ANN001
    freqs = [f for f in (tf(params.tf_column, left), tf(params.tf_column, right)) if f is not None]
    if not freqs or params.u is None:
        return 0.0
    return params.tf_weight * (math.log2(params.u) - math.log2(max(*freqs, params.tf_minimum)))


_SHOWN = {"name": "name_chars", "resident_id": "rid", "birth": "birth", "sex": "sex", "contact": "addr"}


def _shown(name: str) -> str:
    return _SHOWN.get(name, name)

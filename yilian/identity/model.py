"""A trained Fellegi-Sunter model as the real-time scorer uses it: per comparison level, m, u and the
match weight log2(m/u); the prior; the administrator's thresholds.

The parameters come from Splink's model JSON (train.py), stored in `mpi_models`; a model trained on the
synthetic alliance ships in default_model.py so a new installation matches from its first Patient.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import orjson
from sqlalchemy import Connection, select, update

from yilian.identity.compare import Spec
from yilian.identity.tables import mpi_models

CLAMP = 1e-300  # Splink's floor for m and u
DEFAULT_AUTO_WEIGHT = 12.0  # match weight (log2 odds) at or above which a pair links automatically
DEFAULT_REVIEW_WEIGHT = 4.0  # at or above: a person reviews the pair; below: no link


@dataclass(frozen=True)
class LevelParams:
    label: str
    m: float | None
    u: float | None
    null: bool
    tf_column: str | None
    tf_weight: float
    tf_minimum: float

    @property
    def weight(self) -> float:
        if self.null or self.m is None or self.u is None:
            return 0.0
        return math.log2(max(self.m, CLAMP) / max(self.u, CLAMP))


@dataclass(frozen=True)
class Model:
    prior: float  # probability that two random records are the same person
    comparisons: tuple[tuple[str, tuple[LevelParams, ...]], ...]
    auto_weight: float = DEFAULT_AUTO_WEIGHT
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    id: int = 0  # the mpi_models row (0: the shipped default)
    params: dict | None = None  # the Splink model JSON it was read from

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def levels(self, i: int) -> tuple[LevelParams, ...]:
        return self.comparisons[i][1]

    def for_population(self, records: int) -> Model:
        """The prior as it is for `records` records: a person's duplicates are a fixed few, so the chance
        that two random records match falls as the population grows (a model trained on a sample, or an
        index that grew since training, would otherwise overrate every pair)."""
        trained = (self.params or {}).get("yilian_trained_records")
        if not trained or records <= trained:  # never raised: a young index is no reason to link more
            return self
        prior = self.prior * (trained - 1) / (records - 1)
        params = {**(self.params or {}), "probability_two_random_records_match": prior}
        return replace(self, prior=prior, params=params)


def from_splink(params: dict, spec: Spec, **kw) -> Model:  # noqa: ANN003 - Model fields
    """Read Splink's model JSON; its comparisons must be the spec's, in the spec's order."""
    comparisons = []
    by_name = {c["output_column_name"]: c for c in params["comparisons"]}
    for comp in spec.comparisons:
        levels = by_name[comp.name]["comparison_levels"]
        if [lv.get("label_for_charts") for lv in levels] != [lv.label for lv in comp.levels]:
            raise ValueError(f"the model's levels for {comp.name} are not this spec's")
        comparisons.append((comp.name, tuple(_level(lv) for lv in levels)))
    return Model(params["probability_two_random_records_match"], tuple(comparisons), params=params, **kw)


def _level(lv: dict) -> LevelParams:
    return LevelParams(
        lv.get("label_for_charts", ""),
        lv.get("m_probability"),
        lv.get("u_probability"),
        bool(lv.get("is_null_level")),
        lv.get("tf_adjustment_column"),
        float(lv.get("tf_adjustment_weight", 0.0) or 0.0),
        float(lv.get("tf_minimum_u_value", 0.0) or 0.0),
    )


# ---- the stored models


_CACHE: dict[str, Model] = {}
_ACTIVE = (
    select(mpi_models.c.id, mpi_models.c.params, mpi_models.c.auto_weight, mpi_models.c.review_weight)
    .where(mpi_models.c.active)
    .order_by(mpi_models.c.id.desc())
    .limit(1)
)
_READ_IN = "yilian_mpi_model"  # Connection.info: (transaction, spec, model) as `for_transaction` read it


def for_transaction(conn: Connection, spec: Spec) -> Model:
    """`active`, read once per transaction: a bulk load runs many write requests in one, each with its
    Patients to match. A model saved in the same transaction is seen (save and set_thresholds forget it)."""
    tx, held = conn.get_transaction(), conn.info.get(_READ_IN)
    if held and tx is not None and held[0] is tx and held[1] is spec:
        return held[2]
    model = active(conn, spec)
    conn.info[_READ_IN] = (tx, spec, model)
    return model


def active(conn: Connection, spec: Spec) -> Model:
    """The active model (cached per database until another is activated), else the shipped default."""
    row = conn.execute(_ACTIVE).first()
    if row is None:
        return default(spec)
    key = f"{conn.engine.url}#{row.id}#{row.auto_weight}#{row.review_weight}"
    if key not in _CACHE:
        _CACHE[key] = from_splink(
            orjson.loads(row.params),
            spec,
            id=row.id,
            auto_weight=row.auto_weight,
            review_weight=row.review_weight,
        )
    return _CACHE[key]


def default(spec: Spec) -> Model:
    from yilian.identity.default_model import PARAMS

    if "default" not in _CACHE:
        _CACHE["default"] = from_splink(PARAMS, spec)
    return _CACHE["default"]


def save(
    conn: Connection,
    params: dict,
    source: str,
    auto_weight: float | None = None,
    review_weight: float | None = None,
) -> int:
    """Store a trained model and make it the active one (keeping the thresholds in force)."""
    conn.info.pop(_READ_IN, None)
    current = conn.execute(
        select(mpi_models.c.auto_weight, mpi_models.c.review_weight).where(mpi_models.c.active)
    ).first()
    auto = (
        auto_weight if auto_weight is not None else (current.auto_weight if current else DEFAULT_AUTO_WEIGHT)
    )
    review = (
        review_weight
        if review_weight is not None
        else (current.review_weight if current else DEFAULT_REVIEW_WEIGHT)
    )
    conn.execute(update(mpi_models).values(active=False))
    result = conn.execute(
        mpi_models.insert().values(
            created=time.time(),
            source=source,
            params=orjson.dumps(params).decode(),
            auto_weight=auto,
            review_weight=review,
            active=True,
        )
    )
    return int(result.inserted_primary_key[0])


def set_thresholds(conn: Connection, spec: Spec, auto_weight: float, review_weight: float) -> Model:
    """An administrator's thresholds (match weights); the shipped model is stored first if none is."""
    if review_weight > auto_weight:
        raise ValueError("the review threshold must not be above the automatic-link threshold")
    conn.info.pop(_READ_IN, None)
    if conn.execute(select(mpi_models.c.id).where(mpi_models.c.active)).first() is None:
        from yilian.identity.default_model import PARAMS

        save(conn, PARAMS, "shipped default model")
    conn.execute(
        update(mpi_models)
        .where(mpi_models.c.active)
        .values(auto_weight=auto_weight, review_weight=review_weight)
    )
    return active(conn, spec)

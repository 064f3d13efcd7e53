"""Training the Fellegi-Sunter model with Splink 5 on DuckDB (Splink fetches nothing at run time).

Splink 5 takes only registered tables: features go in as an Arrow table through `DuckDBAPI.register`.
u probabilities come from random pairs (two random records are almost never the same person); m
probabilities from expectation maximisation on pairs blocked on what true duplicates share (the resident
ID; the name and birth date), never on phone or address, where a whole household looks like one person.
The guard then clamps the few levels a household can still teach wrongly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pyarrow as pa

from yilian.identity.compare import Spec
from yilian.identity.settings import splink_settings

LOG = logging.getLogger(__name__)
TRAINED_RECORDS = "yilian_trained_records"  # how many records the prior was estimated on (model.py scales it)
# A given name that differs beyond one character is another person far more often than a typo: never let
# training make it look like mild evidence (households teach EM exactly that).
# Birth date and sex disagree on a true duplicate only by error, and rarely: a newborn under the mother's
# ID must not teach the model otherwise.
GUARDS = {
    ("name", "family only"): 0.002,
    ("name", "else"): 0.001,
    ("birth", "else"): 0.01,
    ("sex", "else"): 0.01,
}


def arrow_table(rows: Sequence[dict], columns: Sequence[str], uid: str = "uid") -> pa.Table:
    """Feature dicts -> an Arrow table with explicit types (list columns stay lists even when all null)."""
    fields = []
    for col in (uid, *columns):
        sample = next((r[col] for r in rows if r.get(col) is not None), None)
        if isinstance(sample, list):
            fields.append(pa.field(col, pa.list_(pa.string())))
        elif isinstance(sample, bool):
            fields.append(pa.field(col, pa.bool_()))
        elif isinstance(sample, int) and col != uid:
            fields.append(pa.field(col, pa.int64()))
        else:
            fields.append(pa.field(col, pa.string()))
    data = {f.name: [r.get(f.name) for r in rows] for f in fields}
    data[uid] = [str(v) for v in data[uid]]
    return pa.table(data, schema=pa.schema(fields))


def linker_for(spec: Spec, table: pa.Table, params: dict | None = None, link_type: str = "dedupe_only"):  # noqa: ANN201
    """A Splink Linker over `table` (the settings from the spec, or a trained model's JSON)."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI()
    db_api._con.execute("SET threads TO 2")  # this machine has two cores, shared
    frame = db_api.register(table, dataset_display_name="records")
    settings = (
        splink_settings(spec, link_type)
        if params is None
        else {k: v for k, v in params.items() if k != TRAINED_RECORDS}
    )
    return Linker(frame, settings, log_level=logging.WARNING)


def train(
    spec: Spec,
    table: pa.Table,
    *,
    seed: int = 1,
    max_pairs: float = 2e6,
    recall: float = 0.8,
    guards: dict | None = None,
) -> dict:
    """Train m and u probabilities and the prior; return Splink's model JSON."""
    linker = linker_for(spec, table)
    training = linker.training
    training.estimate_probability_two_random_records_match(list(spec.deterministic), recall=recall)
    training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    for rule in spec.training_blocks:
        training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    params = linker.misc.save_model_to_json()
    params[TRAINED_RECORDS] = table.num_rows
    return guard(params, GUARDS if guards is None else guards)


def guard(params: dict, guards: dict) -> dict:
    """Cap m of the guarded levels (and fill any level training could not reach from its neighbours)."""
    for comp in params["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            cap = guards.get((comp["output_column_name"], level.get("label_for_charts")))
            m = level.get("m_probability")
            if m is None:
                LOG.warning(
                    "no m for %s / %s: using 1e-4", comp["output_column_name"], level.get("label_for_charts")
                )
                level["m_probability"] = m = 1e-4
            if level.get("u_probability") is None:
                level["u_probability"] = 1e-6
            if cap is not None and m > cap:
                level["m_probability"] = cap
    return params

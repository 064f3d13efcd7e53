"""The person-matching model's shape for Chinese residents, and its translation into Splink settings.

Five comparisons (see normalize.py for the features):

- name: characters exactly (term-frequency adjusted: 张伟 agrees more often by chance than 欧阳子轩),
  then pinyin (ranked below characters: homophones and every pinyin-only registration land here, and
  pinyin collides more), then same family name with one given-name character different, then family only
- resident_id: exact (both valid), near (one mistyped: one digit off or two swapped), both valid but
  different (strong evidence of two people), other
- birth: exact, day and month swapped, one part different
- sex
- contact: phone and address as ONE comparison. A household shares both, so treating them as two
  independent agreements (what a plain model does) counts the same evidence twice and links twins and
  siblings; one joint comparison learns how often the pair agrees on both by chance: a household's rate.

Blocking rules are equalities on feature columns (array columns: any element), the same in SQL and as
real-time keys (block.py).
"""

from __future__ import annotations

import re

from yilian.identity import resident_id
from yilian.identity.compare import (
    BlockRule,
    Comparison,
    Level,
    Spec,
    else_level,
    exact,
    hamming_at_most,
    null_either,
    overlap,
)


def _name() -> Comparison:
    def one_char(a: dict, b: dict) -> bool:
        ga, gb = a.get("given_chars"), b.get("given_chars")
        return (
            a.get("family_py") is not None
            and a.get("family_py") == b.get("family_py")
            and ga is not None
            and len(ga) >= 2
            and hamming_at_most(ga, gb, 1)
        )

    return Comparison(
        "name",
        (
            null_either("name_keys"),
            exact("name_chars", "characters", tf="name_chars"),
            overlap("name_keys", "pinyin", tf="name_key"),
            Level(
                "family, one given character",
                "l.family_py = r.family_py and length(l.given_chars) >= 2 and length(l.given_chars) = "
                "length(r.given_chars) and hamming(l.given_chars, r.given_chars) = 1",
                one_char,
            ),
            exact("family_py", "family only", agree=False),
            else_level(),
        ),
        "Name in characters, then pinyin",
    )


def _resident_id() -> Comparison:
    def near(a: dict, b: dict) -> bool:
        return (not a["rid_ok"] or not b["rid_ok"]) and (
            a["rid"] == b["rid"] or resident_id.near(a["rid"], b["rid"])
        )

    return Comparison(
        "resident_id",
        (
            null_either("rid"),
            Level(
                "exact",
                "l.rid = r.rid and l.rid_ok and r.rid_ok",
                lambda a, b: a["rid"] == b["rid"] and bool(a["rid_ok"] and b["rid_ok"]),
                agree=True,
            ),
            Level(
                "near (one mistyped)",
                "(not l.rid_ok or not r.rid_ok) and damerau_levenshtein(l.rid, r.rid) <= 1",
                near,
                agree=True,
            ),
            Level(
                "both valid, different",
                "l.rid_ok and r.rid_ok",
                lambda a, b: bool(a["rid_ok"] and b["rid_ok"]),
            ),
            else_level(),
        ),
        "18-digit resident ID",
    )


def _birth() -> Comparison:
    def one_part(a: dict, b: dict) -> bool:
        x, y = a["birth"], b["birth"]
        return x[:7] == y[:7] or (x[:4] == y[:4] and x[8:] == y[8:]) or x[5:] == y[5:]

    return Comparison(
        "birth",
        (
            null_either("birth"),
            exact("birth"),
            Level(
                "day and month swapped",
                "list_contains(r.births, l.birth)",
                lambda a, b: bool(b["births"]) and a["birth"] in b["births"],
                agree=True,
            ),
            Level(
                "one part different",
                "substr(l.birth, 1, 7) = substr(r.birth, 1, 7) "
                "or (substr(l.birth, 1, 4) = substr(r.birth, 1, 4) "
                "and substr(l.birth, 9, 2) = substr(r.birth, 9, 2)) "
                "or substr(l.birth, 6, 5) = substr(r.birth, 6, 5)",
                one_part,
            ),
            else_level(),
        ),
        "Birth date",
    )


def _sex() -> Comparison:
    return Comparison("sex", (null_either("sex"), exact("sex"), else_level()), "Sex")


def _contact() -> Comparison:
    def phone(a: dict, b: dict) -> bool:
        return bool(a.get("phones") and b.get("phones") and set(a["phones"]) & set(b["phones"]))

    def addr(a: dict, b: dict) -> bool:
        return a.get("addr") is not None and a.get("addr") == b.get("addr")

    def unknown(a: dict, b: dict) -> bool:
        no_phone = not a.get("phones") or not b.get("phones")
        return no_phone and (a.get("addr") is None or b.get("addr") is None)

    phone_sql, addr_sql = "list_has_any(l.phones, r.phones)", "l.addr = r.addr"
    return Comparison(
        "contact",
        (
            Level(
                "null",
                "(l.phones is null or r.phones is null) and (l.addr is null or r.addr is null)",
                unknown,
                null=True,
            ),
            Level(
                "phone and address", f"{phone_sql} and {addr_sql}", lambda a, b: phone(a, b) and addr(a, b)
            ),
            Level("phone", phone_sql, phone),
            Level("address", addr_sql, addr),
            else_level(),
        ),
        "Phone and home address, together",
    )


PERSON_SPEC = Spec(
    comparisons=(_name(), _resident_id(), _birth(), _sex(), _contact()),
    blocking=(
        BlockRule("id", ("rid",)),
        BlockRule("id-region-birth", ("rid14",)),
        BlockRule("name-birth", ("name_keys", "births"), arrays=("name_keys", "births")),
        BlockRule("family-birth", ("family_py", "births"), arrays=("births",)),
        BlockRule("name-address", ("name_keys", "addr"), arrays=("name_keys",)),
        BlockRule("phone", ("phones",), arrays=("phones",)),
    ),
    unique_id="uid",
    # EM sessions blocked on what true matches share; never on phone or address, where a household
    # looks like one person (the unguarded model learns exactly that).
    training_blocks=(
        "l.rid = r.rid and l.rid_ok and r.rid_ok",  # someone else's ID was set aside by normalize.py
        "l.name_key = r.name_key and l.birth = r.birth",
    ),
    deterministic=(
        "l.rid = r.rid and l.rid_ok and r.rid_ok",
        "l.name_chars = r.name_chars and l.birth = r.birth",
    ),
)

FEATURE_COLUMNS = (
    "name_chars", "family_chars", "given_chars", "family_py", "given_py", "name_keys", "name_key",
    "birth", "births", "sex", "rid", "rid_ok", "rid_state", "rid14", "phones", "addr", "addr_full",
)  # fmt: skip


def splink_settings(spec: Spec, link_type: str = "dedupe_only") -> dict:
    """The Splink 5 settings dictionary for a spec (comparisons, prediction blocking rules)."""
    return {
        "link_type": link_type,
        "unique_id_column_name": spec.unique_id,
        "comparisons": [_splink_comparison(c) for c in spec.comparisons],
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": rule.sql(), "arrays_to_explode": list(rule.arrays)}
            if rule.arrays
            else {"blocking_rule": rule.sql()}
            for rule in spec.blocking
        ],
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": True,  # keeps the gamma_ columns our rules read
        "additional_columns_to_retain": [],
        "max_iterations": 20,
        "em_convergence": 0.0001,
    }


def _suffixed(sql: str) -> str:
    """Comparison levels name columns `x_l` and `x_r` in Splink (blocking rules keep `l.x`)."""
    return re.sub(r"\b([lr])\.(\w+)", r"\2_\1", sql)


def _splink_comparison(c: Comparison) -> dict:
    levels = []
    for level in c.levels:
        item: dict = {"sql_condition": _suffixed(level.sql), "label_for_charts": level.label}
        if level.null:
            item["is_null_level"] = True
        if level.tf:
            item["tf_adjustment_column"] = level.tf
            item["tf_adjustment_weight"] = 1.0
            item["disable_tf_exact_match_detection"] = True  # the level's own u is the base (as score.py)
        levels.append(item)
    return {
        "output_column_name": c.name,
        "comparison_description": c.description,
        "comparison_levels": levels,
    }

"""The rows derived.py leaves out, computed with per-type lookups, are those its definitions name: checked
against the definitions applied literally on random rows and labels."""

from __future__ import annotations

import random

from yilian.alliance.codes import (
    ACT_CODE,
    CONFIDENTIALITY,
    CONFIDENTIALITY_OF_LEVEL,
    GBT_CATEGORY,
    GBT_LEVEL,
    SENSITIVE_ELEMENT,
)
from yilian.store.rows import label_columns
from yilian.store.search.derived import (
    LABEL_SYSTEMS,
    _level_number,
    _reproducible_labels,
    column_labels,
    covered_params,
    drop_covered,
)


def slow_without_covered(rows: list, covered: dict[str, tuple[str, ...]]) -> list:
    """A covered parameter's row goes when a parameter covering it has a row with the same values."""
    present = {row for row in rows if any(row[0] in covering for covering in covered.values())}
    return [row for row in rows if not any((c, *row[1:]) in present for c in covered.get(row[0], ()))]


def slow_reproducible_labels(security: object) -> tuple | None:
    if type(security) is not list:
        return None
    found: dict[str, list[str]] = {}
    for s in security:
        if type(s) is dict and s.get("system") in LABEL_SYSTEMS:
            if type(s.get("code")) is not str:
                return None
            found.setdefault(s["system"], []).append(s["code"])
    category, level = found.get(GBT_CATEGORY), found.get(GBT_LEVEL)
    confidentiality, sensitivity = found.get(CONFIDENTIALITY), found.get(ACT_CODE, [None])
    if not (category and level and confidentiality):
        return None
    if any(len(v) != 1 for v in (category, level, confidentiality, sensitivity)):
        return None
    number = _level_number(level[0])
    if not (1 <= len(category[0]) <= 4) or number is None:
        return None
    if confidentiality[0] != CONFIDENTIALITY_OF_LEVEL.get(number, "L"):
        return None
    if sensitivity[0] is not None and not (1 <= len(sensitivity[0]) <= 16 and number == 5):
        return None
    return category[0], number, sensitivity[0]


def test_covered_rows_match_the_definition():
    rng = random.Random(11)
    for rtype in ("Observation", "Condition", "Encounter", "Patient"):
        covered = covered_params(rtype)
        codes = ["code", "combo-code", "code:text", "combo-code:text", "subject", "patient", "value-quantity"]
        codes += ["combo-value-quantity", "status"]
        for _ in range(2000):
            lists = [
                [
                    (rng.choice(codes), *rng.choice([("a",), ("b",), ("Patient", "1"), ("Group", "1")]))
                    for _ in range(n)
                ]
                for n in (rng.randrange(6), rng.randrange(6), rng.randrange(4), rng.randrange(4))
            ]
            expected = [slow_without_covered(rows, covered) if covered else rows for rows in lists]
            drop_covered(rtype, *lists)
            assert lists == expected


def test_column_labels_match_the_definition():
    rng = random.Random(5)
    codes = {
        GBT_CATEGORY: ["MA", "HS", "", "HSHSH", None],
        GBT_LEVEL: ["L4", "L5", "L1", "L04", "", "L", "4"],
        CONFIDENTIALITY: ["R", "V", "L", "M", 4],
        ACT_CODE: ["HIV", "", "A" * 17],
    }
    noise = [{"system": "http://other", "code": "x"}, {"code": "R"}, "not a coding"]
    noise += [
        {"system": SENSITIVE_ELEMENT, "code": "reasonCode"},
        {"system": SENSITIVE_ELEMENT, "code": "note"},
    ]
    reproduced = 0
    for _ in range(20000):
        security = [
            {"system": system, "code": rng.choice(options)}
            for system, options in codes.items()
            for _ in range(rng.choice([1, 1, 1, 1, 0, 2] if system != ACT_CODE else [0, 0, 1, 2]))
        ]
        security += rng.sample(noise, rng.randrange(3))
        rng.shuffle(security)
        found = _reproducible_labels(security)
        assert (found and found[:3]) == slow_reproducible_labels(security), security
        reproduced += found is not None
        # What the store then writes in the label columns is what reading them from meta gives.
        codings = [s for s in security if type(s) is dict]
        columns = column_labels([], "m-a", codings)
        assert columns is None or columns == label_columns({"meta": {"security": codings}}), codings
    assert reproduced > 50
    assert _reproducible_labels(None) is None

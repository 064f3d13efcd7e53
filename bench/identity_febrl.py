"""FEBRL 3 (deduplication) and FEBRL 4 (two-file linkage) as a smoke test of the matching engine: our
pipeline (a spec for these English-language fields, trained with Splink, decided by our rules, guarded
clustering) beside two plain Splink models, same data, same run: one built from Splink's comparison
library on the same candidate pairs as ours, and Splink's own published FEBRL example as it stands.

Blocking follows Splink's FEBRL examples (the SSN, given name, surname, birth date and postcode each on
their own, the two names in either order) plus the street: FEBRL swaps given name and surname in about
one duplicate in a hundred, and a rule that needs both names in place never offers those pairs.

    .venv/bin/python -m bench.identity_febrl
"""

from __future__ import annotations

import csv
import gzip
import logging
import time

from bench.common import SHARED, emit, machine
from yilian.identity import batch, evaluate, train
from yilian.identity import model as models
from yilian.identity.compare import (
    BlockRule,
    Comparison,
    Level,
    Spec,
    damerau_levenshtein,
    else_level,
    exact,
    jaro_winkler,
    null_either,
)
from yilian.identity.decide import generic

FEBRL = SHARED / "febrl"
COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def read(name: str) -> list[dict]:
    with gzip.open(FEBRL / name, "rt", encoding="utf-8") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        rows = [{"uid": r["rec_id"].strip(), **{c: (r[c].strip() or None) for c in COLUMNS}} for r in reader]
    return with_names_key(rows)


def with_names_key(rows: list[dict]) -> list[dict]:
    """Add `names_key`: both names, in either order (blocks pairs whose given name and surname swapped)."""
    for r in rows:
        g, s = r["given_name"], r["surname"]
        r["names_key"] = "|".join(sorted((g, s))) if g and s else None
    return rows


def truth_of(rows: list[dict]) -> dict[str, str]:
    return {r["uid"]: r["uid"].split("-")[1] for r in rows}


def _jw(col: str, at: float) -> Level:
    return Level(
        f"jaro-winkler >= {at}",
        f"jaro_winkler_similarity(l.{col}, r.{col}) >= {at}",
        lambda a, b: jaro_winkler(a[col], b[col]) >= at,
        agree=at >= 0.9,
    )


def _dl(col: str, k: int) -> Level:
    return Level(
        f"edits <= {k}",
        f"damerau_levenshtein(l.{col}, r.{col}) <= {k}",
        lambda a, b: damerau_levenshtein(a[col], b[col]) <= k,
        agree=True,
    )


def _name(col: str, other: str) -> Comparison:
    reversed_ = Level(
        "swapped with " + other,
        f"l.{col} = r.{other} and l.{other} = r.{col}",
        lambda a, b: a[col] == b.get(other) and a.get(other) == b[col],
        agree=True,
    )
    return Comparison(
        col, (null_either(col), exact(col, tf=col), reversed_, _jw(col, 0.92), _jw(col, 0.8), else_level())
    )


def febrl_spec() -> Spec:
    return Spec(
        comparisons=(
            _name("given_name", "surname"),
            _name("surname", "given_name"),
            Comparison(
                "date_of_birth",
                (
                    null_either("date_of_birth"),
                    exact("date_of_birth"),
                    _dl("date_of_birth", 1),
                    _dl("date_of_birth", 2),
                    else_level(),
                ),
            ),
            Comparison(
                "soc_sec_id",
                (
                    null_either("soc_sec_id"),
                    exact("soc_sec_id"),
                    _dl("soc_sec_id", 1),
                    _dl("soc_sec_id", 2),
                    else_level(),
                ),
            ),
            Comparison(
                "address",
                (
                    null_either("address_1"),
                    exact("address_1"),
                    _jw("address_1", 0.9),
                    _jw("address_1", 0.7),
                    else_level(),
                ),
            ),
            Comparison("street_number", (null_either("street_number"), exact("street_number"), else_level())),
            Comparison(
                "postcode", (null_either("postcode"), exact("postcode"), _dl("postcode", 1), else_level())
            ),
            Comparison("suburb", (null_either("suburb"), exact("suburb"), _jw("suburb", 0.85), else_level())),
            Comparison("state", (null_either("state"), exact("state"), else_level())),
        ),
        blocking=tuple(BlockRule(n, cols) for n, cols in BLOCKING),
        training_blocks=(
            "l.soc_sec_id = r.soc_sec_id",
            "l.date_of_birth = r.date_of_birth",
            "l.given_name = r.given_name and l.surname = r.surname",
        ),
        deterministic=("l.soc_sec_id = r.soc_sec_id and l.date_of_birth = r.date_of_birth",),
    )


# Splink's FEBRL examples' rules, the names in either order, and the street (number and name).
BLOCKING = (
    ("ssn", ("soc_sec_id",)),
    ("dob", ("date_of_birth",)),
    ("given", ("given_name",)),
    ("surname", ("surname",)),
    ("postcode", ("postcode",)),
    ("names-any-order", ("names_key",)),
    ("street", ("street_number", "address_1")),
)
SWAPPED_NAMES = "l.given_name = r.surname and l.surname = r.given_name"

# FEBRL corrupts names heavily: a similar name (Jaro-Winkler 0.8) or an SSN two edits away counts here.
AGREE = {
    "given_name": frozenset({"exact", "swapped with surname", "jaro-winkler >= 0.92", "jaro-winkler >= 0.8"}),
    "surname": frozenset({"exact", "swapped with given_name", "jaro-winkler >= 0.92", "jaro-winkler >= 0.8"}),
    "soc_sec_id": frozenset({"exact", "edits <= 1", "edits <= 2"}),
}


def ours(rows: list[dict], link_type: str, truth: set, name_or_id_rule: bool = False) -> dict:
    """FEBRL has no households, and corrupts names across fields: the thresholds alone decide, unless
    `name_or_id_rule` (then a link without a similar name or SSN waits for review)."""
    spec = febrl_spec()
    started = time.perf_counter()
    params = train.train(spec, train.arrow_table(rows, (*COLUMNS, "names_key")), max_pairs=2e6, guards={})
    model = models.from_splink(params, spec, auto_weight=2.0, review_weight=-2.0)
    decider = generic(("given_name", "surname"), ("soc_sec_id",), AGREE if name_or_id_rule else ALWAYS)
    result = batch.link(spec, model, rows, decider=decider)
    edges = {tuple(sorted((p.a, p.b))) for p in result.auto}
    if link_type == "link_only":  # two files: a record links to at most one in the other file
        edges = {e for e in edges if e[0].endswith("-org") != e[1].endswith("-org")}
    out = evaluate.scores(edges, truth)
    out["cluster_f1"] = evaluate.scores(evaluate.cluster_pairs(result.persons.values()), truth)["f1"]
    out["review_pairs"] = len(result.review)
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["missed"] = missed(rows, truth - edges, result)
    return out


def missed(rows: list[dict], pairs: set, result: batch.BatchResult) -> list[dict]:
    """The true pairs not linked: both records, and their weight (None: never a candidate or below review)."""
    by_id = {r["uid"]: r for r in rows}
    weights = {tuple(sorted((p.a, p.b))): round(p.weight, 2) for p in (*result.auto, *result.review)}
    return [
        {"pair": [a, b], "weight": weights.get((a, b)), "records": [_brief(by_id[a]), _brief(by_id[b])]}
        for a, b in sorted(pairs)
    ]


def _brief(r: dict) -> str:
    return " / ".join(str(r[c] or "-") for c in COLUMNS)


class _Always(dict):
    def get(self, key, default=None):  # noqa: ANN001, ANN201 - any level counts as agreement
        return _Anything()


class _Anything(frozenset):
    def __contains__(self, item: object) -> bool:
        return True


ALWAYS = _Always()


def _frames(db, rows: list[dict], tables: int):  # noqa: ANN001, ANN202 - Splink's own types
    if tables == 1:
        return db.register(train.arrow_table(rows, COLUMNS))
    left = [r for r in rows if r["uid"].endswith("-org")]
    right = [r for r in rows if not r["uid"].endswith("-org")]
    return [db.register(train.arrow_table(left, COLUMNS)), db.register(train.arrow_table(right, COLUMNS))]


def _edges(linker, threshold: float) -> set:  # noqa: ANN001 - a Splink Linker
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    return {tuple(sorted((r["uid_l"], r["uid_r"]))) for r in predictions.as_record_list()}


def plain_splink(rows: list[dict], truth: set, link_type: str = "dedupe_only", tables: int = 1) -> dict:
    """A plain Splink model as Splink's FEBRL examples build one: one library comparison per field (names
    with term frequencies), the same blocking rules as ours, the prior from deterministic rules, u by
    random sampling, m by EM on the birth date and on the postcode, linked at match probability >= 0.5."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="uid",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.ExactMatch("street_number"),
            cl.DamerauLevenshteinAtThresholds("postcode", [1]),
            cl.JaroWinklerAtThresholds("suburb", [0.85]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            SWAPPED_NAMES if cols == ("names_key",) else block_on(*cols) for _n, cols in BLOCKING
        ],
    )
    linker = Linker(_frames(DuckDBAPI(), rows, tables), settings, log_level=logging.WARNING)
    _train_as_splink_examples(linker, recall=0.9 if tables == 1 else 0.8)
    out = evaluate.scores(_edges(linker, 0.5), truth)
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def _train_as_splink_examples(linker, recall: float, without_tf: bool = False) -> None:  # noqa: ANN001
    from splink import block_on

    deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=without_tf
        )


def splink_example(rows: list[dict], truth: set, link_type: str = "dedupe_only", tables: int = 1) -> dict:
    """Splink's published FEBRL 3 / FEBRL 4 ("detailed model") example as it stands: its comparisons
    and blocking rules, trained the same way, linked at match probability >= 0.5."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    dob = cl.DateOfBirthComparison(
        "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=tables == 2
    )
    if tables == 1:
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            dob,
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ]
        blocking = [block_on(c) for c in ("soc_sec_id", "given_name", "surname", "date_of_birth", "postcode")]
    else:
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            dob,
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ]
        blocking = [
            block_on("given_name", "surname"),
            SWAPPED_NAMES,
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ]
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="uid",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
    )
    linker = Linker(_frames(DuckDBAPI(), rows, tables), settings, log_level=logging.WARNING)
    _train_as_splink_examples(linker, recall=0.9 if tables == 1 else 0.8, without_tf=tables == 2)
    out = evaluate.scores(_edges(linker, 0.5), truth)
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def run() -> list[dict]:
    """Both FEBRL results, or one line saying why they were skipped."""
    if not (FEBRL / "dataset3.csv.gz").exists():
        return [{"bench": "identity_febrl", "skipped": f"{FEBRL} is absent (the shared reference data)"}]
    logging.getLogger("splink").setLevel(logging.ERROR)
    three = read("dataset3.csv.gz")
    truth3 = evaluate.true_pairs(truth_of(three))
    out = []
    out.append(
        {
            "bench": "identity_febrl3",
            "records": len(three),
            "true_links": len(truth3),
            "ours": ours(three, "dedupe_only", truth3),
            "plain_splink": plain_splink(three, truth3),
            "splink_example": splink_example(three, truth3),
            "ours_with_name_or_id_rule": ours(three, "dedupe_only", truth3, name_or_id_rule=True),
            **machine(),
        }
    )
    four = read("dataset4a.csv.gz") + read("dataset4b.csv.gz")
    truth4 = evaluate.true_pairs(truth_of(four))
    out.append(
        {
            "bench": "identity_febrl4",
            "records": len(four),
            "true_links": len(truth4),
            "ours": ours(four, "link_only", truth4),
            "ours_with_name_or_id_rule": ours(four, "link_only", truth4, name_or_id_rule=True),
            "plain_splink": plain_splink(four, truth4, "link_only", tables=2),
            "splink_example": splink_example(four, truth4, "link_only", tables=2),
            **machine(),
        }
    )
    return out


def main() -> None:
    for result in run():
        emit(result)


if __name__ == "__main__":
    main()

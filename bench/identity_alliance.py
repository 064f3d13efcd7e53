"""The synthetic alliance's duplicates: ours beside a plain Splink model and the usual hospital rule.

Two populations with truth: the harder synthetic population (identity/synthetic.py: households, twins,
newborns under the mother's ID, pinyin-only and English-order names, homophones, missing and mistyped
IDs, swapped day/month) and the demo alliance's registrations (yilian/demo). Reported: false automatic
links, F1 of automatic links (as persons), the share of records waiting in the review queue.

    .venv/bin/python -m bench.identity_alliance [--size 50000]
"""

from __future__ import annotations

import argparse
import logging
import time

from bench.common import emit, machine
from yilian.identity import batch, evaluate, train
from yilian.identity import model as models
from yilian.identity.clusters import GuardedClusters
from yilian.identity.normalize import features
from yilian.identity.settings import FEATURE_COLUMNS, PERSON_SPEC
from yilian.identity.synthetic import build_population


def synthetic_rows(size: int, seed: int) -> tuple[list[dict], dict[str, str]]:
    pop = build_population(size, seed)
    return [{**features(p), "uid": p["id"]} for _m, p in pop.patients], pop.truth


def demo_rows(residents: int, seed: int) -> tuple[list[dict], dict[str, str]]:
    from yilian.demo.alliance import build_demo_alliance

    demo = build_demo_alliance(residents, seed)
    owner = {(m, mrn): key for key, regs in demo.truth.items() for m, mrn in regs}
    rows, truth = [], {}
    for member, bundle in demo.feeds:
        p = bundle["entry"][0]["resource"]
        mrn = p["identifier"][0]["value"]
        uid = f"{member}/{mrn}"
        rows.append({**features(p), "uid": uid})
        truth[uid] = owner[(member, mrn)]
    return rows, truth


def ours(rows: list[dict], truth: set, train_rows: list[dict]) -> dict:
    started = time.perf_counter()
    params = train.train(PERSON_SPEC, train.arrow_table(train_rows, FEATURE_COLUMNS), max_pairs=2e6)
    trained = time.perf_counter()
    model = models.from_splink(params, PERSON_SPEC)
    result = batch.link(PERSON_SPEC, model, rows)
    out = evaluate.scores(evaluate.cluster_pairs(result.persons.values()), truth)
    reviewed = {x for p in result.review for x in (p.a, p.b)}
    out.update(
        review_pairs=len(result.review),
        review_share=round(len(reviewed) / len(rows), 5),
        train_seconds=round(trained - started, 2),
        link_seconds=round(time.perf_counter() - trained, 2),
    )
    return out


def plain_splink(rows: list[dict], truth: set, guarded: bool = False) -> dict:
    """Splink as usually set up: one comparison per field, EM blocked on birth date and phone too; or
    `guarded` by hand (EM only on pairs with the same ID, or the same name and birth date)."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    flat = [
        {**r, "name": r.get("name_chars") or r.get("name_key"), "phone": (r.get("phones") or [None])[0]}
        for r in rows
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="uid",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.9]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("name_key"),
            cl.DamerauLevenshteinAtThresholds("rid", [1]),
            cl.DamerauLevenshteinAtThresholds("birth", [1]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("addr"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("rid"),
            block_on("name_key", "birth"),
            block_on("family_py", "birth"),
            block_on("phone"),
            block_on("name_key", "addr"),
        ],
    )
    db = DuckDBAPI()
    cols = ["name", "name_key", "family_py", "rid", "birth", "sex", "phone", "addr"]
    linker = Linker(db.register(train.arrow_table(flat, cols)), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(["l.rid = r.rid"], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    rules = (
        (block_on("rid"), block_on("name_key", "birth"))
        if guarded
        else (block_on("rid"), block_on("birth"), block_on("phone"))
    )
    for rule in rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    edges = linker.inference.predict(threshold_match_probability=0.5, warning_mode="never").as_record_list()
    groups = GuardedClusters({})
    for e in edges:
        groups.union(e["uid_l"], e["uid_r"], force=True)
    out = evaluate.scores(evaluate.cluster_pairs(groups.groups([r["uid"] for r in rows]).values()), truth)
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def hospital_rule(rows: list[dict], truth: set) -> dict:
    """The usual rule: the same resident ID, or the same name, birth date and sex."""
    groups = GuardedClusters({})
    first: dict[tuple, str] = {}
    for r in rows:
        keys = [("id", r["rid"])] if r.get("rid") and r.get("rid_ok") else []
        if r.get("name_chars") and r.get("birth") and r.get("sex"):
            keys.append(("nbs", r["name_chars"], r["birth"], r["sex"]))
        for k in keys:
            groups.union(first.setdefault(k, r["uid"]), r["uid"], force=True)
    return evaluate.scores(evaluate.cluster_pairs(groups.groups([r["uid"] for r in rows]).values()), truth)


def run(name: str, rows: list[dict], truth_map: dict[str, str], train_rows: list[dict]) -> dict:
    truth = evaluate.true_pairs(truth_map)
    return {
        "bench": f"identity_{name}",
        "records": len(rows),
        "persons": len(set(truth_map.values())),
        "true_links": len(truth),
        "ours": ours(rows, truth, train_rows),
        "plain_splink": plain_splink(rows, truth),
        "plain_splink_hand_guarded": plain_splink(rows, truth, guarded=True),
        "hospital_rule": hospital_rule(rows, truth),
        **machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=50_000, help="records in the synthetic population")
    parser.add_argument("--demo-residents", type=int, default=4000, help="residents of the demo alliance")
    args = parser.parse_args()
    for result in run_all(args.size, args.demo_residents):
        emit(result)


def run_all(size: int = 50_000, demo_residents: int = 4000) -> list[dict]:
    logging.getLogger("splink").setLevel(logging.ERROR)
    rows, truth = synthetic_rows(size, seed=2026)
    demo, demo_truth = demo_rows(demo_residents, seed=20261124)
    # the demo alliance is small: its model is trained on the synthetic records
    return [run("synthetic_alliance", rows, truth, rows), run("demo_alliance", demo, demo_truth, rows)]


if __name__ == "__main__":
    main()

"""Batch linkage of a large synthetic population (1,000,000 records for the recorded figure; smaller by
default so `make bench` stays short): normalisation, training on a sample, Splink prediction in DuckDB,
our decisions and guarded clustering, each timed.

    .venv/bin/python -m bench.identity_batch --size 1000000
"""

from __future__ import annotations

import argparse
import logging
import random
import time

from bench.common import emit, machine
from yilian.identity import batch, evaluate, train
from yilian.identity import model as models
from yilian.identity.normalize import features
from yilian.identity.settings import FEATURE_COLUMNS, PERSON_SPEC
from yilian.identity.synthetic import build_population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--train-sample", type=int, default=200_000)
    args = parser.parse_args()
    emit(run(args.size, args.train_sample))


def run(size: int = 100_000, train_sample: int = 200_000) -> dict:
    logging.getLogger("splink").setLevel(logging.ERROR)
    clock = time.perf_counter()
    pop = build_population(size, seed=99)
    generated = time.perf_counter()
    rows = [{**features(p), "uid": p["id"]} for _m, p in pop.patients]
    normalised = time.perf_counter()
    sample = random.Random(1).sample(rows, min(len(rows), train_sample))
    params = train.train(PERSON_SPEC, train.arrow_table(sample, FEATURE_COLUMNS), max_pairs=5e6)
    trained = time.perf_counter()
    stages: dict[str, float] = {}
    result = batch.link(PERSON_SPEC, models.from_splink(params, PERSON_SPEC), rows)
    stages.update(result.seconds)
    linked = time.perf_counter()
    scores = evaluate.scores(evaluate.cluster_pairs(result.persons.values()), evaluate.true_pairs(pop.truth))
    reviewed = {x for p in result.review for x in (p.a, p.b)}
    return {
        "bench": "identity_batch",
        "records": len(rows),
        "persons": pop.residents,
        "generate_s": round(generated - clock, 1),
        "normalise_s": round(normalised - generated, 1),
        "train_s": round(trained - normalised, 1),
        "link_s": round(linked - trained, 1),
        "link_stages_s": stages,
        "normalise_and_link_s": round(linked - trained + normalised - generated, 1),
        "scored_pairs": result.scored_pairs,
        "auto_links": len(result.auto),
        "review_pairs": len(result.review),
        "review_share": round(len(reviewed) / len(rows), 5),
        **scores,
        **machine(),
    }


if __name__ == "__main__":
    main()

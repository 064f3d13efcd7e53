"""Accuracy against a known truth: pairwise precision, recall and F1 of links, and false links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations


def true_pairs(truth: dict[str, str]) -> set[tuple[str, str]]:
    """Every pair of records of the same person (record id -> person key)."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for record, person in truth.items():
        by_person[person].append(record)
    return {tuple(sorted(p)) for records in by_person.values() for p in combinations(records, 2)}


def cluster_pairs(groups: Iterable[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in combinations(g, 2)}


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    tp = len(predicted & truth)
    fp, fn = len(predicted) - tp, len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "true_links": tp,
        "false_links": fp,
        "missed_links": fn,
    }

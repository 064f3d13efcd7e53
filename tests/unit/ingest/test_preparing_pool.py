"""Preparing processes yield the cores to the writer: they run at a lower priority than the process that
starts them, and still run the initializer they are given."""

from __future__ import annotations

import os

from yilian.ingest.workers import NICENESS, preparing_pool

_given: list = []


def _remember(value: object) -> None:
    _given.append(value)


def _state() -> tuple[int, list]:
    return os.nice(0), list(_given)


def test_a_preparing_process_is_niced_and_initialised():
    with preparing_pool(1, _remember, ("tables",)) as pool:
        niceness, given = pool.submit(_state).result()
    assert niceness == min(os.nice(0) + NICENESS, 19)
    assert given == ["tables"]

"""Preparing processes yield the cores to the writer: they run at a lower priority than the process that
starts them, and still run the initializer they are given."""

from __future__ import annotations

import os

from yilian.ingest.workers import NICENESS, preparing_pool, warm_up

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


def _element_table_built() -> bool:
    from yilian.store.search import extract

    return extract._elements.cache_info().currsize == 1


def test_warm_up_builds_what_preparing_processes_share_before_they_fork():
    """The validators, the search parameters and the extractors' element table are built in the process
    that forks: a preparing process finds them built (each built its own element table before)."""
    from yilian.store.search import extract

    extract._elements.cache_clear()
    with preparing_pool(1) as pool:
        assert pool.submit(_element_table_built).result() is False  # forked before: not shared
    warm_up()
    assert _element_table_built()
    with preparing_pool(1) as pool:
        assert pool.submit(_element_table_built).result() is True

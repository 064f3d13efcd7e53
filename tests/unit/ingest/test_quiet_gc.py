"""The garbage collector kept quiet while loading: off in the writer (collected between groups), on in
the preparing processes, and as it was afterwards."""

from __future__ import annotations

import gc
import weakref

from yilian.ingest import workers
from yilian.ingest.workers import between_groups, preparing_pool, quiet_gc


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def _collector_state() -> tuple[bool, int]:
    return gc.isenabled(), gc.get_threshold()[0]


def test_the_collector_is_off_while_loading_and_restored_after():
    before = _collector_state()
    with quiet_gc():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # the long-lived heap is set aside
    assert _collector_state() == before and gc.get_freeze_count() == 0


def test_cycles_made_while_loading_are_collected_between_groups():
    with quiet_gc():
        ref = weakref.ref(_Node())
        calls = 0
        while ref() is not None and calls < 2 * workers.COLLECT_EVERY:
            between_groups()
            calls += 1
        assert ref() is None and calls <= workers.COLLECT_EVERY


def test_between_groups_leaves_a_normal_collector_alone(monkeypatch):
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(a))
    for _ in range(2 * workers.COLLECT_EVERY):
        between_groups()
    assert collected == []


def test_preparing_processes_collect_on_their_own():
    with quiet_gc(), preparing_pool(1) as pool:
        state = pool.submit(_collector_state).result()
    assert state == (True, workers.GC_THRESHOLD)

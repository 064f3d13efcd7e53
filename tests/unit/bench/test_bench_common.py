"""The benchmarks' own helpers (bench/common.py): each compared load runs in a process of its own."""

from __future__ import annotations

import os

import pytest

from bench.common import in_own_process


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _fails() -> None:
    raise ValueError("no such bundle")


def test_a_measure_runs_in_another_process_and_its_result_comes_back():
    pid, doubled = in_own_process(_pid_and, 21)
    assert pid != os.getpid()
    assert doubled == 42


def test_a_measure_that_fails_raises_here_with_its_traceback():
    with pytest.raises(RuntimeError, match="ValueError: no such bundle"):
        in_own_process(_fails)


def test_a_measure_whose_process_dies_says_so():
    with pytest.raises(RuntimeError, match="exit code 3"):
        in_own_process(os._exit, 3)

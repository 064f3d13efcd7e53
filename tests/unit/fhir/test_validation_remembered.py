"""Checkers that remember their answers (yilian.fhir.validation._Remembered) answer as the checks they
wrap, the second time too, called or looked up, and check long values afresh without keeping them; the
extractor's remembered date ranges likewise."""

from __future__ import annotations

import pytest

from yilian.fhir.validation import (
    _REMEMBERED,
    _REMEMBERED_LENGTH,
    _date_checker,
    _regex,
    _Remembered,
    validate,
)
from yilian.store.search.dates import date_range
from yilian.store.search.extract import _range

DATE_TIME = (
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"
)
VALUES = [
    "2020-02-29",
    "2021-02-29",
    "2020-13-01",
    "2020-05-01T10:00:00Z",
    "2020-05-01T10:00:00.123+08:00",
    "2020-05-01T10:00:00." + "1" * 200 + "Z",
    "2020-05-01T10:00:00." + "1" * 200 + "X",
    "",
    " ",
    "a b",
    "x" * 300,
    "x" * 300 + " ",
]


@pytest.mark.parametrize("make", [lambda: _regex(r"\S+"), lambda: _date_checker(DATE_TIME)])
def test_remembering_answers_as_the_check(make):
    check, remembered = make(), _Remembered(make())
    for _ in range(2):  # the second round answers from memory (the short values)
        for value in VALUES:
            assert remembered(value) == remembered[value] == bool(check(value)), value
    assert set(remembered) == {v for v in VALUES if len(v) <= _REMEMBERED_LENGTH}


def test_remembering_is_bounded():
    remembered = _Remembered(_regex(r"\S+"))
    for n in range(_REMEMBERED + 10):
        assert remembered[f"v{n}"] is True
    assert 0 < len(remembered) <= _REMEMBERED
    assert remembered["a b"] is False and remembered("a b") is False


def test_validation_repeats_its_verdicts():
    bad = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "issued": "2021-02-29T00:00:00Z",
    }
    for _ in range(2):
        assert [i.path for i in validate(bad)] == ["Observation.issued"]
        assert validate({**bad, "issued": "2020-02-29T00:00:00Z"}) == []


@pytest.mark.parametrize("value", [*VALUES, "2020", "2020-05", "2020-05-01T10:00", "2020-05-01T10:00:00.5"])
def test_remembered_date_ranges(value):
    assert _range(value) == date_range(value)
    assert _range(value) == date_range(value)

"""Parameter keys, FHIR date ranges and query parsing."""

from __future__ import annotations

import calendar

import pytest

from yilian.fhir.outcomes import FhirError
from yilian.store.search.dates import MAX_TIME, date_range, instant
from yilian.store.search.keys import param_key
from yilian.store.search.params import resource_types_with_params, search_params
from yilian.store.search.parse import parse_query, split_prefix, split_values


def test_parameter_keys_do_not_collide_across_r4():
    keys = {}
    for rtype in resource_types_with_params():
        for code, param in search_params(rtype).items():
            for key_code in (code, code + ":text") if param.type == "token" else (code,):
                key = param_key(rtype, key_code)
                assert key not in keys, f"{rtype}.{key_code} collides with {keys[key]}"
                keys[key] = f"{rtype}.{key_code}"
    assert len(keys) > 1500


def utc(*parts) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)[:6]))


def test_date_ranges_cover_their_precision():
    assert date_range("2020") == (utc(2020, 1, 1), utc(2021, 1, 1) - 1e-6)
    assert date_range("2020-02") == (utc(2020, 2, 1), utc(2020, 3, 1) - 1e-6)
    assert date_range("2020-12") == (utc(2020, 12, 1), utc(2021, 1, 1) - 1e-6)
    assert date_range("2024-02-29") == (utc(2024, 2, 29), utc(2024, 3, 1) - 1e-6)
    low, high = date_range("2023-05-01T08:30:00+08:00")
    assert low == utc(2023, 5, 1) + 30 * 60 and high == low + 1 - 1e-6
    assert date_range("2023-05-01T00:30:00.250Z") == (utc(2023, 5, 1) + 1800.25,) * 2
    assert date_range("2023-13-01") is None
    assert date_range("yesterday") is None
    assert utc(9999, 12, 31) < MAX_TIME


def test_instant_is_fhir_instant():
    assert instant(utc(2026, 11, 24) + 0.5) == "2026-11-24T00:00:00.500Z"


def test_values_and_prefixes():
    assert split_values(r"a,b\,c,,d") == ("a", "b,c", "d")
    assert split_prefix("ge2020") == ("ge", "2020")
    assert split_prefix("2020") == ("eq", "2020")
    assert split_prefix("general") == ("eq", "general")


def parse(rtype: str, query: str):
    from urllib.parse import parse_qsl

    return parse_query(rtype, parse_qsl(query), default_count=20, max_count=100)


def test_parse_collects_criteria_and_result_parameters():
    q = parse(
        "Observation", "patient=p1&code=a,b&date=ge2020&_count=500&_sort=-date&_include=Observation:subject"
    )
    assert [c.param.code for c in q.criteria] == ["patient", "code", "date"]
    assert q.criteria[1].values == ("a", "b")
    assert q.count == 100  # capped at max_count
    assert q.sort == [("date", True)]
    assert q.includes[0].param == "subject"


@pytest.mark.parametrize(
    "query",
    [
        "nonsense=1",
        "name:frobnicate=x",
        "birthdate:exact=2020",
        "_count=abc",
        "_summary=maybe",
        "_include=Patient",
        "general-practitioner.name=x",
        "gender.name=x",
    ],
)
def test_parse_rejects_bad_queries(query):
    with pytest.raises(FhirError) as err:
        parse("Patient", query)
    assert err.value.status == 400

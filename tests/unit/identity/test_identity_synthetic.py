"""The synthetic population: deterministic, with the hard cases the issue names."""

from __future__ import annotations

from collections import Counter

from yilian.identity.normalize import features
from yilian.identity.synthetic import _Maker, build_population


def test_deterministic_by_seed():
    assert build_population(500, 3).patients == build_population(500, 3).patients
    assert build_population(500, 3).patients != build_population(500, 4).patients


def test_it_has_the_hard_cases():
    pop = build_population(20000, 7)
    fs = [features(p) for _m, p in pop.patients]
    states = Counter(f.get("rid_state") for f in fs)
    assert states["invalid"] and states["swapped"] and states["conflict"] and states[None]
    assert sum(1 for f in fs if f["name_chars"] is None and f["name_keys"]) > 500  # typed in pinyin
    assert sum(1 for f in fs if f.get("placeholder_name")) > 10  # newborns as 王芳之女
    households: dict[tuple, set[str]] = {}
    for f, (_m, p) in zip(fs, pop.patients, strict=True):
        households.setdefault((f["birth"], f["addr"], f["family_py"]), set()).add(pop.truth[p["id"]])
    assert sum(1 for people in households.values() if len(people) > 1) > 20  # twins: birth date, address
    assert len(pop.truth) == len(pop.patients) and pop.residents < len(pop.patients)


def test_no_one_shares_a_given_name_with_someone_in_their_household():
    """Two people of one household with one name would be indistinguishable on a record without birth date
    and ID (a father and son both 徐国 made the 100,000-record batch's false links): no family does that."""
    maker = _Maker(99)
    for _ in range(3000):
        start = len(maker.people)
        maker.household()
        names = [p.family + p.given for p in maker.people[start:]]
        assert len(names) == len(set(names)), names

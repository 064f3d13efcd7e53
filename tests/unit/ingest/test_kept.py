"""Values ingest reads from the store and keeps a while (kept.py)."""

from __future__ import annotations

from sqlalchemy import create_engine

from yilian.ingest.kept import Kept


def test_a_value_is_kept_for_its_time_then_read_again():
    engine = create_engine("sqlite://")
    clock = [100.0]
    kept = Kept(30.0)
    kept.clock = lambda: clock[0]
    assert kept.get(engine, "m-a") is None
    kept.put(engine, "m-a", {"lab": {}})
    clock[0] += 29.9
    assert kept.get(engine, "m-a") == {"lab": {}}
    clock[0] += 0.1
    assert kept.get(engine, "m-a") is None  # too old: the caller reads it again


def test_forgetting_and_engines_of_one_database():
    engine = create_engine("sqlite://")
    variant = engine.execution_options(sqlite_autocheckpoint=0)  # the same database, the same pool
    other = create_engine("sqlite://")
    kept = Kept(30.0)
    kept.put(engine, "m-a", True)
    assert kept.get(variant, "m-a") is True and kept.get(other, "m-a") is None
    kept.forget(variant, "m-a")
    assert kept.get(engine, "m-a") is None

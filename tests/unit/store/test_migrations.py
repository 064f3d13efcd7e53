"""The Alembic migrations build exactly the schema the code declares (on every backend)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from yilian.store import schema


def test_migrations_match_the_declared_tables(engine):
    metadata = schema.load_all_tables()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], "tables.py and the migrations disagree: add a migration"


def test_upgrade_is_idempotent(engine):
    before = schema.current_revision(engine)
    schema.upgrade(engine)
    assert schema.current_revision(engine) == before

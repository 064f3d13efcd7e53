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


def test_labels_in_columns_downgrades_by_writing_back_the_marker_rows(gate, fhir):
    """0008 moved level-4 markers to a column; going back to 0007 writes the rows the older code reads."""
    from alembic import command
    from sqlalchemy import inspect, select

    from yilian.alliance.codes import GBT_LEVEL
    from yilian.store.search.derived import LABELS_MARKER
    from yilian.store.search.keys import param_key
    from yilian.store.tables import idx_token, resources

    patient = fhir.post("Patient", {"resourceType": "Patient"}).resource()
    marker = param_key("Patient", LABELS_MARKER)
    with gate.engine.connect() as conn:
        rid = conn.execute(select(resources.c.rid).where(resources.c.id == patient["id"])).scalar_one()
        assert conn.execute(select(idx_token.c.value).where(idx_token.c.param == marker)).all() == []
        command.downgrade(schema.alembic_config(conn), "0007")
        conn.commit()
    with gate.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("resources")}
        rows = conn.execute(
            select(idx_token.c.rid, idx_token.c.value).where(idx_token.c.param == marker)
        ).all()
    assert "labels_in_columns" not in columns and [tuple(r) for r in rows] == [(rid, "L4")]
    schema.upgrade(gate.engine)
    found = fhir.get(f"Patient?_security={GBT_LEVEL}|L4").resource()
    assert [e["resource"]["id"] for e in found["entry"]] == [patient["id"]]

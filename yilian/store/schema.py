"""Schema migrations with Alembic, run from code (`yilian db upgrade`, tests, `make run`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def load_all_tables():  # noqa: ANN201 - the shared MetaData
    """Import every capability's `tables` module (yilian/<package>/tables.py) so that the shared MetaData
    knows all tables: for Alembic autogenerate and for tests that empty the database."""
    import importlib
    import pkgutil

    import yilian
    from yilian.store.tables import metadata

    for info in pkgutil.iter_modules(yilian.__path__):
        if info.ispkg and (Path(yilian.__path__[0]) / info.name / "tables.py").exists():
            importlib.import_module(f"yilian.{info.name}.tables")
    return metadata


def alembic_config(connection=None) -> Config:  # noqa: ANN001 - a SQLAlchemy Connection
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database to `revision` (every branch's newest by default: capabilities add their own
    migration branches off the initial schema)."""
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
        return ", ".join(sorted(heads)) or None


def is_current(engine: Engine) -> bool:
    """Whether the database is at every migration branch's newest revision (the schema this code needs)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads

"""Creating the database engine for a Settings; nothing is created at import time."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from yilian.config import Settings
from yilian.store import dialect


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url, **kwargs)
    dialect.configure_engine(engine, settings.sqlite_busy_timeout_ms)
    return engine

"""Building the running system from Settings: the engine, the gate and the gate's observers.

The app, the CLI, benchmarks and tests all build their Gate here, so a capability that must see every
request (the audit log) is attached in one place.
"""

from __future__ import annotations

from sqlalchemy import Engine

from yilian.config import Settings
from yilian.gate.repository import Gate
from yilian.store.engine import make_engine


def build_gate(settings: Settings, engine: Engine | None = None) -> Gate:
    """The gate over `engine` (a new one for the settings' database unless given)."""
    gate = Gate(engine or make_engine(settings), settings)
    return gate

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
    engine = engine or make_engine(settings)
    if settings.encrypt_identifiers:  # patients' identifiers sealed at rest (crypto/codec.py)
        from yilian.crypto.rotation import codec_for
        from yilian.store.codec import with_codec

        engine = with_codec(engine, codec_for(settings))
    gate = Gate(engine, settings)
    from yilian.identity.observer import IdentityObserver

    gate.observers.insert(0, IdentityObserver(gate))  # every Patient written is matched on arrival (MPI)
    from yilian.audit.log import AuditLog

    gate.observers.append(AuditLog(gate.engine, settings))  # every request leaves an AuditEvent
    return gate

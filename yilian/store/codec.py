"""The store's codec hook: a codec attached to the engine (as an execution option, so every connection of
that engine carries it) seals resources before they are written and opens them when they are read; the
gate asks it to seal search values the same way. No codec: the store reads and writes JSON as is.

yilian/crypto/codec.py is the codec (encryption of patients' direct identifiers); wiring.build_gate
attaches it when `Settings.encrypt_identifiers` is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine

if TYPE_CHECKING:
    from yilian.store.rows import Prepared
    from yilian.store.search.parse import SearchQuery

OPTION = "yilian_codec"


class Codec(Protocol):
    def seals(self, rtype: str) -> bool:
        """Whether resources of `rtype` are stored sealed (others are stored as they are)."""
        ...

    def seal_prepared(self, p: Prepared) -> Prepared:
        """A copy of `p` as it is to be stored (content and index rows)."""
        ...

    def seal(self, rtype: str, content: bytes) -> bytes: ...

    def open(self, rtype: str, content: bytes) -> bytes: ...

    def seal_query(self, query: SearchQuery) -> SearchQuery: ...


def codec_of(conn: Connection) -> Codec | None:
    return conn.get_execution_options().get(OPTION)


def with_codec(engine: Engine, codec: Codec) -> Engine:
    """The same engine (same pool) whose connections carry `codec`."""
    return engine.execution_options(**{OPTION: codec})

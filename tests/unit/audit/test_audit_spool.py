"""The read-path spool: events are durable there at once, drained into the store exactly once."""

from __future__ import annotations

import pytest
from audit_helpers import event
from sqlalchemy import func, select

from yilian.audit.spool import Spool
from yilian.audit.tables import audit_event


def stored(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_event)).scalar_one())


@pytest.fixture
def spool(tmp_path) -> Spool:  # noqa: ANN001
    return Spool(tmp_path / "audit.spool")


def test_spooled_events_are_drained_once(spool, engine) -> None:  # noqa: ANN001
    spool.append([event(i) for i in range(5)])
    assert spool.count() == 5
    assert spool.drain(engine) == 5 and spool.count() == 0 and stored(engine) == 5
    assert spool.drain(engine) == 0 and stored(engine) == 5


def test_ids_are_not_reused_after_the_spool_empties(spool, engine) -> None:  # noqa: ANN001
    spool.append([event(i) for i in range(3)])
    spool.drain(engine)
    spool.append([event(9)])  # would get id 1 again without AUTOINCREMENT, and be taken for drained
    assert spool.drain(engine) == 1 and stored(engine) == 4


def test_a_crash_between_the_store_commit_and_the_spool_cleanup_copies_nothing_twice(spool, engine) -> None:  # noqa: ANN001
    spool.append([event(i) for i in range(4)])
    real = spool.db

    class CrashOnCleanup:  # the spool's DELETE after the store committed never happens
        def __init__(self) -> None:
            self.calls = 0

        def execute(self, sql: str, *args):  # noqa: ANN002, ANN202
            if sql.startswith("DELETE") and self.calls:
                raise KeyboardInterrupt("killed")
            if sql.startswith("DELETE"):
                self.calls += 1
            return real.execute(sql, *args)

    spool.db = CrashOnCleanup()
    with pytest.raises(KeyboardInterrupt):
        spool.drain(engine)
    spool.db = real
    assert stored(engine) == 4 and spool.count() == 4  # copied, not yet forgotten
    assert spool.drain(engine) == 0 and stored(engine) == 4 and spool.count() == 0


def test_a_reopened_spool_keeps_its_name_and_its_events(spool, tmp_path, engine) -> None:  # noqa: ANN001
    spool.append([event(1)])
    spool.close()
    again = Spool(tmp_path / "audit.spool")
    assert again.name == spool.name and again.count() == 1
    assert again.drain(engine) == 1

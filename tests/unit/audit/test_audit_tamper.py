"""Tampering with the stored log is detected by `verify`, which names the first tampered entry."""

from __future__ import annotations

import pytest
from audit_helpers import event, record
from sqlalchemy import Engine, delete, select, update

from yilian.audit import verify
from yilian.audit.log import AuditLog, grow, of
from yilian.audit.tables import audit_checkpoint, audit_entry, audit_event, audit_hash, audit_state
from yilian.audit.tiles import HASH, WIDTH, append_nodes
from yilian.audit.verify import verify_log

E = audit_event.c
X = audit_entry.c
A = audit_hash.c


def forge(leaf: int):  # noqa: ANN201 - an UPDATE
    """Rewrite the AuditEvent of entry `leaf`."""
    return (
        update(audit_entry)
        .where(X.seq == select(E.seq).where(E.leaf == leaf).scalar_subquery())
        .values(entry=b'{"forged":true}')
    )


@pytest.fixture(autouse=True, params=[verify.BATCH, 7], ids=["batch", "batch-of-7"])
def batch(request, monkeypatch) -> None:  # noqa: ANN001
    """Each test also with small batches: findings that straddle batches are still named the same."""
    monkeypatch.setattr(verify, "BATCH", request.param)


@pytest.fixture
def log(gate) -> AuditLog:  # noqa: ANN001
    log = of(gate)
    for start, n in ((0, 100), (100, 300), (400, 200)):  # three signed checkpoints: 100, 400, 600
        record(log.engine, [event(start + i) for i in range(n)])
        log.fold()
    return log


def run(engine: Engine, *statements) -> None:  # noqa: ANN002
    with engine.begin() as conn:
        for stmt in statements:
            conn.execute(stmt)


def rewrite_tile(engine: Engine, level: int, tile: int, change) -> None:  # noqa: ANN001 - bytes -> bytes
    with engine.begin() as conn:
        hashes = conn.execute(select(A.hashes).where(A.level == level, A.tile == tile)).scalar_one()
        conn.execute(
            update(audit_hash).where(A.level == level, A.tile == tile).values(hashes=change(bytes(hashes)))
        )


def test_an_untouched_log_verifies(log: AuditLog) -> None:
    report = verify_log(log)
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (600, 3)


def test_an_edited_entry_is_named(log: AuditLog) -> None:
    run(log.engine, forge(123))
    report = verify_log(log)
    assert not report.ok
    assert (report.first.leaf, report.first.kind) == (123, "altered")
    assert "#123" in report.first.message


def test_an_edit_with_every_stored_hash_recomputed_is_caught_by_the_signed_root(log: AuditLog) -> None:
    run(log.engine, forge(123))
    with log.engine.begin() as conn:  # the attacker rebuilds the tiles from the edited entries
        conn.execute(delete(audit_hash))
        entries = conn.execute(
            select(X.entry).join_from(audit_event, audit_entry, X.seq == E.seq).order_by(E.leaf)
        ).scalars()
        h = log.suite.hash
        append_nodes(conn, grow(conn, h, 0, [h(b"\x00" + bytes(e)) for e in entries]))
    report = verify_log(log)
    assert [p.kind for p in report.problems] == ["root"]
    assert report.first.leaf == 100  # the checkpoint at 400 covers entries #100..#399
    assert "#100 to #399" in report.first.message


def test_a_deleted_entry_is_named(log: AuditLog) -> None:
    run(log.engine, delete(audit_event).where(E.leaf == 200))
    report = verify_log(log)
    assert (report.first.leaf, report.first.kind) == (200, "missing")


def test_a_deleted_entry_with_the_rest_renumbered_is_named(log: AuditLog) -> None:
    run(
        log.engine,
        delete(audit_event).where(E.leaf == 200),
        update(audit_event).where(E.leaf > 200).values(leaf=-E.leaf),
        update(audit_event).where(E.leaf < 0).values(leaf=-E.leaf - 1),
    )
    report = verify_log(log)
    assert (report.first.leaf, report.first.kind) == (200, "altered")


def test_reordered_entries_are_named(log: AuditLog) -> None:
    run(
        log.engine,
        update(audit_event).where(E.leaf == 10).values(leaf=-1),
        update(audit_event).where(E.leaf == 11).values(leaf=10),
        update(audit_event).where(E.leaf == -1).values(leaf=11),
    )
    report = verify_log(log)
    assert (report.first.leaf, report.first.kind) == (10, "altered")
    assert {p.leaf for p in report.problems if p.kind == "altered"} == {10, 11}


def test_a_truncated_log_is_caught(log: AuditLog) -> None:
    run(log.engine, delete(audit_event).where(E.leaf >= 590))
    report = verify_log(log)
    assert (report.first.leaf, report.first.kind) == (590, "truncated")


def test_a_truncation_that_also_rolls_back_the_checkpoints_is_caught_by_a_kept_copy(log: AuditLog) -> None:
    kept = log.head().note  # a member countersigned and kept the newest checkpoint
    run(
        log.engine,
        delete(audit_event).where(E.leaf >= 400),
        delete(audit_checkpoint).where(audit_checkpoint.c.size > 400),
        update(audit_state).values(size=400),
    )
    assert verify_log(log).ok is False or True  # the log alone may look consistent...
    report = verify_log(log, kept=[kept])
    assert (report.first.leaf, report.first.kind) == (400, "truncated")


def test_a_forged_checkpoint_is_caught(log: AuditLog) -> None:
    note = log.head().note.replace("\n600\n", "\n601\n")
    run(log.engine, update(audit_checkpoint).where(audit_checkpoint.c.size == 600).values(note=note))
    report = verify_log(log)
    assert any(p.kind == "signature" for p in report.problems)


def test_a_rewritten_tree_node_is_named(log: AuditLog) -> None:
    at = 70 * HASH  # node 70 of level 2: entries #280 to #283
    rewrite_tile(log.engine, 2, 0, lambda hashes: hashes[:at] + bytes(HASH) + hashes[at + HASH :])
    report = verify_log(log)
    assert [(p.leaf, p.kind) for p in report.problems] == [(280, "node")]
    assert "node 70 at level 2 (entries #280 to #283)" in report.first.message


def test_a_deleted_tile_is_caught(log: AuditLog) -> None:
    run(log.engine, delete(audit_hash).where(A.level == 1, A.tile == 0))
    report = verify_log(log)
    assert [(p.leaf, p.kind) for p in report.problems] == [(0, "node")]


def test_a_tile_cut_short_names_the_entries_it_lost(log: AuditLog) -> None:
    rewrite_tile(log.engine, 0, 0, lambda hashes: hashes[: 200 * HASH])
    report = verify_log(log)
    assert [p.leaf for p in report.problems if p.kind == "altered"] == list(range(200, WIDTH))
    assert report.first.leaf == 200

"""The stored Merkle log: folding in batches, proofs against the reference, signed checkpoints."""

from __future__ import annotations

import merkle_reference as ref
import pytest
from audit_helpers import event, record
from sqlalchemy import select

from yilian.audit import checkpoint as cps
from yilian.audit import merkle, proofs
from yilian.audit.log import of
from yilian.audit.tables import audit_entry, audit_event


@pytest.fixture
def log(gate):  # noqa: ANN001, ANN201
    return of(gate)


def entries(log) -> list[bytes]:  # noqa: ANN001
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(audit_entry.c.entry)
            .join_from(audit_event, audit_entry, audit_entry.c.seq == audit_event.c.seq)
            .order_by(audit_event.c.leaf)
        )
        return [bytes(r.entry) for r in rows]


def test_batches_fold_into_the_tree_the_reference_computes(log) -> None:  # noqa: ANN001
    sizes = []
    for batch in (1, 2, 5, 250, 9, 256, 300, 1):  # crosses tile edges (256) at several levels
        start = sum(sizes)
        record(log.engine, [event(start + i) for i in range(batch)])
        assert log.fold() == batch
        sizes.append(batch)
        head = log.head()
        data = entries(log)
        assert head.size == len(data) == start + batch
        assert head.root == ref.mth(data)
    assert log.fold() == 0  # nothing pending


def test_inclusion_and_consistency_proofs_match_the_reference(log) -> None:  # noqa: ANN001
    for batch in (3, 300, 77):
        record(log.engine, [event(i) for i in range(batch)])
        log.fold()
    data = entries(log)
    n = len(data)
    with log.engine.connect() as conn:
        for m in (0, 1, 2, 255, 256, 257, 302, n - 1):
            proof = proofs.inclusion(log, conn, m)
            assert [proofs.unb64(p) for p in proof["inclusionPath"]] == ref.path(m, data)
            assert proofs.check_inclusion(proof) == []
        for old in (1, 3, 256, 303):
            path = proofs.consistency_path(log, conn, old, n)
            assert path == ref.proof(old, data)
            assert merkle.verify_consistency(
                merkle_hash(log), old, n, ref.mth(data[:old]), ref.mth(data), path
            )


def merkle_hash(log):  # noqa: ANN001, ANN201
    return log.suite.hash


def test_every_fold_signs_a_checkpoint_with_the_log_key(log) -> None:  # noqa: ANN001
    record(log.engine, [event(i) for i in range(10)])
    log.fold()
    cp = cps.parse(log.head().note)
    assert (cp.size, cp.origin, cp.suite) == (10, log.name, "intl")
    assert cps.verify(cp, log.suite, log.name, "Ed25519", log.key.public)
    forged = cps.Checkpoint(cp.origin, 11, cp.root, cp.suite, cp.signatures)
    assert not cps.verify(forged, log.suite, log.name, "Ed25519", log.key.public)


def test_a_downloaded_proof_that_was_altered_fails_its_check(log) -> None:  # noqa: ANN001
    record(log.engine, [event(i) for i in range(20)])
    log.fold()
    with log.engine.connect() as conn:
        proof = proofs.inclusion(log, conn, 7)
    proof["auditEvent"]["n"] = 8
    assert "the AuditEvent shown is not the one proven" in proofs.check_inclusion(proof)
    proof = {**proof, "leafIndex": 8}
    assert proofs.check_inclusion(proof)


def test_events_not_yet_folded_have_no_proof(log) -> None:  # noqa: ANN001
    record(log.engine, [event(0)])
    with log.engine.connect() as conn, pytest.raises(LookupError):
        proofs.inclusion(log, conn, 0)


def test_the_chinese_suite_builds_an_sm3_tree_signed_with_sm2(engine, settings, tmp_path) -> None:  # noqa: ANN001
    from yilian.audit.log import AuditLog
    from yilian.audit.verify import verify_log

    guomi = settings.model_copy(update={"crypto_suite": "guomi", "key_dir": str(tmp_path / "gm")})
    log = AuditLog(engine, guomi)
    record(engine, [event(i) for i in range(40)])
    log.fold()
    data = entries(log)
    assert log.head().root == ref.mth(data, log.suite.hash) != ref.mth(data)
    cp = cps.parse(log.head().note)
    assert cp.suite == "guomi" and cps.verify(cp, log.suite, log.name, "SM2", log.key.public)
    assert verify_log(log).ok
    with engine.connect() as conn:
        assert proofs.check_inclusion(proofs.inclusion(log, conn, 17)) == []


def test_a_log_keeps_its_suite(engine, settings) -> None:  # noqa: ANN001
    from yilian.audit.log import AuditLog

    record(engine, [event(0)])
    AuditLog(engine, settings).fold()
    record(engine, [event(1)])
    with pytest.raises(RuntimeError, match="suite"):
        AuditLog(engine, settings.model_copy(update={"crypto_suite": "guomi"})).fold()

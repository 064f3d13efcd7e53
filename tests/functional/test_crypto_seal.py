"""`yilian crypto seal`: records stored before encryption was turned on are sealed in place, their search
index rows become the keyed hashes a write under encryption stores, a second run changes nothing, an
interrupted run resumes; `yilian crypto status` counts what is sealed and what is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from yilian.alliance.codes import RESIDENT_ID
from yilian.cli import common
from yilian.cli.main import app
from yilian.crypto import seal as sealing
from yilian.crypto.rotation import codec_for
from yilian.store.tables import idx_string, idx_token, resources
from yilian.testing.plugin import Fhir, caller
from yilian.wiring import build_gate

HIS = caller("member-system", "m-a", user_id="his-a")
SECRETS = ("330106195802011234", "13812345678", "欧阳", "明月", "文三路", "杭州", "MRN-778", "王芳")


def patient(rid: str = "330106195802011234", **extra) -> dict:  # noqa: ANN003
    return {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT_ID, "value": rid}, {"system": "urn:mrn:a", "value": "MRN-778"}],
        "name": [{"use": "official", "family": "欧阳", "given": ["明月"], "text": "欧阳明月"}],
        "telecom": [{"system": "phone", "value": "13812345678"}],
        "address": [{"line": ["西湖区文三路 90 号"], "city": "杭州市"}],
        "gender": "female",
        **extra,
    }


@pytest.fixture
def sealed_settings(settings, tmp_path):  # noqa: ANN001, ANN201
    return settings.model_copy(update={"encrypt_identifiers": True, "key_dir": str(tmp_path / "keys")})


@pytest.fixture
def loaded(gate) -> dict[str, str]:  # noqa: ANN001
    """Records written with encryption off: an updated Patient (so a history row), a RelatedPerson, and a
    Patient with nothing identifying."""
    clear = Fhir(gate, HIS)
    pid = clear.post("Patient", patient()).resource()["id"]
    clear.put(f"Patient/{pid}", {**patient(), "id": pid, "gender": "other"})
    related = clear.post(
        "RelatedPerson",
        {
            "resourceType": "RelatedPerson",
            "patient": {"reference": f"Patient/{pid}"},
            "name": [{"text": "王芳"}],
        },
    ).resource()["id"]
    bare = clear.post("Patient", {"resourceType": "Patient", "gender": "male"}).resource()["id"]
    return {"patient": pid, "related": related, "bare": bare}


def stored_bytes(engine) -> str:  # noqa: ANN001
    out = []
    with engine.connect() as conn:
        for table in ("resources", "resource_history", "idx_string", "idx_token"):
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")):
                out.append(
                    " ".join(
                        bytes(v).decode(errors="replace") if isinstance(v, bytes) else str(v) for v in row
                    )
                )
    return "\n".join(out)


def sealed_index(engine, rid_id: str, codec) -> set[tuple]:  # noqa: ANN001
    """A Patient's index rows of the sealed parameters, without its rid."""
    with engine.connect() as conn:
        rid = conn.execute(select(resources.c.rid).where(resources.c.id == rid_id)).scalar_one()
        tokens = conn.execute(select(idx_token).where(idx_token.c.rid == rid)).all()
        strings = conn.execute(select(idx_string).where(idx_string.c.rid == rid)).all()
    return {("t", r.param, r.system, r.value) for r in tokens if r.param in codec.tokens} | {
        ("s", r.param, r.value) for r in strings if r.param in codec.strings
    }


def test_sealing_leaves_nothing_identifying_in_the_clear_and_reads_the_same(
    loaded, engine, sealed_settings
) -> None:  # noqa: ANN001
    clear_view = Fhir(
        build_gate(sealed_settings.model_copy(update={"encrypt_identifiers": False}), engine), HIS
    )
    before = {
        k: clear_view.get(f"{'RelatedPerson' if k == 'related' else 'Patient'}/{v}").resource()
        for k, v in loaded.items()
    }
    assert all(s in stored_bytes(engine) for s in SECRETS)

    report = sealing.seal(engine, codec_for(sealed_settings))
    # current Patient + its history row + the RelatedPerson; the bare Patient has nothing to seal
    assert (report.sealed, report.nothing, report.already) == (3, 1, 0)
    stored = stored_bytes(engine)
    assert not [s for s in SECRETS if s in stored]

    fhir = Fhir(build_gate(sealed_settings, engine), HIS)
    after = {
        k: fhir.get(f"{'RelatedPerson' if k == 'related' else 'Patient'}/{v}").resource()
        for k, v in loaded.items()
    }
    assert after == before
    old = fhir.get(f"Patient/{loaded['patient']}/_history/1").resource()
    assert old["gender"] == "female" and old["telecom"][0]["value"] == "13812345678"


@pytest.mark.parametrize(
    "query",
    [
        "identifier=330106195802011234",
        f"identifier={RESIDENT_ID}|330106195802011234",
        "phone=13812345678",
        "name=欧阳明",
        "family=欧阳",
        "address-city=杭州",
    ],
)
def test_sealed_records_are_found_by_the_keyed_hash_searches(loaded, engine, sealed_settings, query) -> None:  # noqa: ANN001
    sealing.seal(engine, codec_for(sealed_settings))
    fhir = Fhir(build_gate(sealed_settings, engine), HIS)
    found = fhir.get(f"Patient?{query}").resource()
    assert [e["resource"]["id"] for e in found["entry"]] == [loaded["patient"]]


def test_index_rows_are_those_a_write_under_encryption_stores(loaded, engine, sealed_settings) -> None:  # noqa: ANN001
    codec = codec_for(sealed_settings)
    sealing.seal(engine, codec)
    fhir = Fhir(build_gate(sealed_settings, engine), HIS)
    fresh = fhir.post("Patient", {**patient(), "gender": "other"}).resource()["id"]
    assert sealed_index(engine, loaded["patient"], codec) == sealed_index(engine, fresh, codec) != set()


def test_a_second_run_changes_nothing(loaded, engine, sealed_settings) -> None:  # noqa: ANN001
    codec = codec_for(sealed_settings)
    sealing.seal(engine, codec)
    once = stored_bytes(engine)
    again = sealing.seal(engine, codec)
    assert (again.sealed, again.already, again.nothing) == (0, 3, 1)
    assert stored_bytes(engine) == once


def test_an_interrupted_run_resumes_where_it_stopped(gate, engine, sealed_settings, monkeypatch) -> None:  # noqa: ANN001
    clear = Fhir(gate, HIS)
    for i in range(7):
        clear.post("Patient", patient(rid=f"33010619580201{i:04d}"))
    monkeypatch.setattr(sealing, "BATCH", 3)
    codec = codec_for(sealed_settings)

    def killed(n: int) -> None:  # the first batch is committed, then the process dies
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sealing.seal(engine, codec, progress=killed)
    midway = sealing.status(engine)
    assert (midway.sealed, midway.clear) == (3, 4)
    seen: list[int] = []
    report = sealing.seal(engine, codec, progress=seen.append)
    assert (report.sealed, report.already) == (4, 3) and sum(seen) == 7
    done = sealing.status(engine)
    assert (done.sealed, done.clear, dict(done.by_key)) == (7, 0, {codec.keys.active: 7})
    fhir = Fhir(build_gate(sealed_settings, engine), HIS)
    assert len(fhir.get("Patient?family=欧阳").resource()["entry"]) == 7


def test_status_counts_sealed_clear_and_nothing_to_seal(loaded, engine, sealed_settings) -> None:  # noqa: ANN001
    found = sealing.status(engine)
    assert (found.sealed, found.clear, found.nothing) == (0, 3, 1)
    sealing.seal(engine, codec_for(sealed_settings))
    found = sealing.status(engine)
    assert (found.sealed, found.clear, found.nothing) == (3, 0, 1)


def test_the_commands(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    runner = CliRunner()
    monkeypatch.setenv("YILIAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("YILIAN_ENCRYPT_IDENTIFIERS", "false")
    common.settings.cache_clear()
    common.gate.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    Fhir(common.gate(), HIS).post("Patient", patient())
    refused = runner.invoke(app, ["crypto", "seal"])
    assert refused.exit_code == 1 and "YILIAN_ENCRYPT_IDENTIFIERS" in refused.output
    assert "identifiers in the clear │ 1" in runner.invoke(app, ["crypto", "status"]).output.replace(
        "  ", " "
    )

    monkeypatch.setenv("YILIAN_ENCRYPT_IDENTIFIERS", "true")
    common.settings.cache_clear()
    common.gate.cache_clear()
    try:
        done = runner.invoke(app, ["crypto", "seal"], catch_exceptions=False)
        assert done.exit_code == 0 and "1 records sealed" in done.output
        assert (tmp_path / "keys" / "data-keys.json").exists()  # the key file, beside the database
        status = runner.invoke(app, ["crypto", "status"]).output
        assert "encrypt_identifiers: on" in status and "sealed under k1" in status
    finally:
        common.settings.cache_clear()
        common.gate.cache_clear()

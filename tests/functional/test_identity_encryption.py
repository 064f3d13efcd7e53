"""The master patient index under `encrypt_identifiers`: its own tables hold no identifier in the clear,
matching, PIX, golden records and the review evidence still work, key rotation re-seals the index, and an
index written in clear is sealed by the re-seal."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from yilian.alliance.codes import RESIDENT_ID
from yilian.crypto.rotation import codec_for, reseal, rotate
from yilian.identity import index, links, persons, sealing
from yilian.identity.tables import mpi_links, mpi_records
from yilian.identity.testing import patient, resident_id
from yilian.store.codec import with_codec
from yilian.testing.plugin import Fhir, caller
from yilian.wiring import build_gate

A, B, C = (caller("member-system", org) for org in ("m-a", "m-b", "m-c"))
RID = resident_id("330108", "1960-03-08", 137)
PHONE = "13812345678"
MPI_TABLES = ("mpi_records", "mpi_keys", "mpi_links", "mpi_persons", "mpi_actions")
# What must not be readable in the index's tables: the ID, the phone, the name in characters and in
# pinyin, the address, the birth date.
SECRETS = (RID, PHONE, "张建国", "建国", "zhang", "jianguo", "江南大道", "1960-03-08")


@pytest.fixture
def sealed_settings(settings, tmp_path):  # noqa: ANN001, ANN201
    return settings.model_copy(update={"encrypt_identifiers": True, "key_dir": str(tmp_path / "keys")})


@pytest.fixture
def sealed(sealed_settings, engine, admin) -> Fhir:  # noqa: ANN001
    return Fhir(build_gate(sealed_settings, engine), admin)


def raw_index(engine) -> str:  # noqa: ANN001
    """Every stored value of the index's tables, as text."""
    with engine.connect() as conn:
        return "\n".join(
            " ".join(str(v) for v in row)
            for table in MPI_TABLES
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )


def register_three(fhir: Fhir) -> list[str]:
    return [
        fhir.as_(A).post("Patient", patient(rid=RID, mrn="A1", member_no=1)).resource()["id"],
        fhir.as_(B).post("Patient", patient(rid=RID, mrn="B1", member_no=2)).resource()["id"],
        fhir.as_(C).post("Patient", patient(rid=None, mrn="C1", member_no=3)).resource()["id"],
    ]


def person_of(engine, patient_id: str, settings) -> str:  # noqa: ANN001
    with with_codec(engine, codec_for(settings)).connect() as conn:
        return index.get(conn, patient_id).person_id


def test_the_index_holds_no_identifier_in_the_clear_and_still_matches(sealed, engine, sealed_settings):
    a, b, c = register_three(sealed)
    assert len({person_of(engine, x, sealed_settings) for x in (a, b, c)}) == 1
    stored = raw_index(engine)
    assert "mpi-" in stored  # the tables were read
    assert [s for s in SECRETS if s in stored] == []
    person = sealed.get(f"Patient/{a}/$person").resource()
    assert {"system": RESIDENT_ID, "value": RID, "use": "official"} in person["identifier"]
    assert person["name"][0]["text"] == "张建国"
    pix = sealed.get("Patient/$ihe-pix?sourceIdentifier=urn:oid:2.16.156.10011.1.2.1|A1").resource()
    targets = {p["valueReference"]["reference"] for p in pix["parameter"] if p["name"] == "targetId"}
    assert targets == {f"Patient/{x}" for x in (a, b, c)}


def test_review_evidence_and_golden_records_open(sealed, engine, sealed_settings):
    home = {"birth": "2015-06-01", "phone": "13811112222", "address": "西兴路120号江景苑2幢"}
    sealed.as_(A).post("Patient", patient("王建国", mrn="A1", **home))
    sealed.as_(B).post("Patient", patient("王建军", mrn="B1", **home))
    with with_codec(engine, codec_for(sealed_settings)).connect() as conn:
        row = conn.execute(select(mpi_links).where(mpi_links.c.status == links.REVIEW)).one()
        assert sealing.is_sealed(row.evidence)
        evidence = {e["field"]: e for e in links.evidence_of(conn, row)}
        assert evidence["name"]["level"] == "family, one given character"
        golden = persons.golden_of(conn, index.get(conn, row.a).person_id)
    assert "王建" in str(evidence["name"]["left"]) + str(evidence["name"]["right"])
    assert golden["name"]["value"]  # opened
    assert "王建" not in raw_index(engine) and "13811112222" not in raw_index(engine)


def test_rotation_reseals_the_index_and_matching_goes_on(sealed, engine, sealed_settings):
    a, _b, _c = register_three(sealed)
    old = codec_for(sealed_settings).keys.active
    rotate(sealed_settings)
    codec = codec_for(sealed_settings)
    assert codec.keys.active != old
    assert reseal(engine, codec) > 3  # the Patients, and the index's records, links and persons
    with engine.connect() as conn:
        envelopes = [
            v for row in conn.execute(select(mpi_records.c.features, mpi_records.c.demographics)) for v in row
        ]
    assert envelopes and all(codec.key_of(v.encode()) == codec.keys.active for v in envelopes)
    assert reseal(engine, codec) == 0
    fresh = Fhir(build_gate(sealed_settings, engine), A)
    d = fresh.as_(B).post("Patient", patient(rid=RID, mrn="B2", member_no=2)).resource()["id"]
    assert person_of(engine, d, sealed_settings) == person_of(engine, a, sealed_settings)


def test_an_index_written_in_clear_is_sealed_by_the_reseal(fhir, engine, sealed_settings, monkeypatch):
    a, _b, _c = register_three(fhir)  # encryption off
    assert RID in raw_index(engine)
    monkeypatch.setattr(sealing, "BATCH", 2)  # several pages of keys and rows: paging must reach them all
    codec = codec_for(sealed_settings)
    assert sealing.reseal_index(engine, codec) > 0
    assert [s for s in SECRETS if s in raw_index(engine)] == []
    sealed = Fhir(build_gate(sealed_settings, engine), A)
    d = sealed.as_(B).post("Patient", patient(rid=RID, mrn="B2", member_no=2)).resource()["id"]
    assert person_of(engine, d, sealed_settings) == person_of(engine, a, sealed_settings)


def test_crypto_seal_seals_the_index_with_the_store(fhir, engine, sealed_settings):
    """`yilian crypto seal` (records stored before encryption was on) covers the index's copies too."""
    from yilian.crypto.seal import seal

    register_three(fhir)  # encryption off
    assert RID in raw_index(engine)
    report = seal(engine, codec_for(sealed_settings))
    assert report.sealed >= 3 and report.index_rows > 0
    assert [s for s in SECRETS if s in raw_index(engine)] == []


def test_a_sealed_index_does_not_open_without_the_codec(sealed, gate, engine):
    a, *_ = register_three(sealed)
    with gate.engine.connect() as conn, pytest.raises(RuntimeError, match="encrypt_identifiers"):
        index.get(conn, a)

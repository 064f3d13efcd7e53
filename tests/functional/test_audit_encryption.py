"""Encryption at rest of patients' direct identifiers, through the router: nothing identifying is stored
in the clear (resources, history, index tables), every read is decrypted, resident-ID / phone / name
searches still work through keyed hashes, and data keys rotate."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from yilian.alliance.codes import RESIDENT_ID
from yilian.fhir.outcomes import FhirError
from yilian.testing.plugin import Fhir, caller
from yilian.wiring import build_gate

RID = "330106195802011234"
PHONE = "13812345678"
HIS = caller("member-system", "m-a", user_id="his-a")


@pytest.fixture
def sealed(settings, engine, tmp_path):  # noqa: ANN001, ANN201
    """A gate that seals identifiers, with its keys in their own directory."""
    s = settings.model_copy(update={"encrypt_identifiers": True, "key_dir": str(tmp_path / "keys")})
    return Fhir(build_gate(s, engine), HIS), s


def patient(**extra) -> dict:  # noqa: ANN003
    return {
        "resourceType": "Patient",
        "identifier": [{"system": RESIDENT_ID, "value": RID}, {"system": "urn:mrn:a", "value": "MRN-778"}],
        "name": [{"use": "official", "family": "欧阳", "given": ["明月"], "text": "欧阳明月"}],
        "telecom": [{"system": "phone", "value": PHONE}],
        "address": [{"line": ["西湖区文三路 90 号"], "city": "杭州市"}],
        "gender": "female",
        "birthDate": "1958-02-01",
        **extra,
    }


def raw_database(engine) -> str:  # noqa: ANN001
    """Every stored byte of resources, history and index tables, as text."""
    out = []
    with engine.connect() as conn:
        for table in ("resources", "resource_history", "idx_string", "idx_token"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                out.append(
                    " ".join(
                        bytes(v).decode(errors="replace") if isinstance(v, bytes | memoryview) else str(v)
                        for v in row
                    )
                )
    return "\n".join(out)


def ids(bundle: dict) -> list[str]:
    return [
        e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"
    ]


def test_identifiers_are_not_stored_in_the_clear(sealed, engine) -> None:  # noqa: ANN001
    fhir, _ = sealed
    created = fhir.post("Patient", patient()).resource()
    fhir.put(
        f"Patient/{created['id']}", {**patient(), "id": created["id"], "gender": "other"}
    )  # a history row
    stored = raw_database(engine)
    for secret in (RID, PHONE, "欧阳", "明月", "文三路", "杭州", "MRN-778"):
        assert secret not in stored, secret
    assert "_sealed" in stored


def test_reads_are_decrypted(sealed) -> None:  # noqa: ANN001
    fhir, _ = sealed
    pid = fhir.post("Patient", patient()).resource()["id"]
    fhir.put(f"Patient/{pid}", {**patient(), "id": pid, "gender": "other"})
    read = fhir.get(f"Patient/{pid}").resource()
    assert read["identifier"][0]["value"] == RID and read["name"][0]["text"] == "欧阳明月"
    assert "_sealed" not in read
    old = fhir.get(f"Patient/{pid}/_history/1").resource()
    assert old["telecom"][0]["value"] == PHONE and old["gender"] == "female"
    history = fhir.get(f"Patient/{pid}/_history").resource()
    assert {e["resource"]["address"][0]["city"] for e in history["entry"]} == {"杭州市"}
    everything = fhir.get(f"Patient/{pid}/$everything").resource()
    assert everything["entry"][0]["resource"]["name"][0]["family"] == "欧阳"


@pytest.mark.parametrize(
    "query",
    [
        f"identifier={RID}",
        f"identifier={RESIDENT_ID}|{RID}",
        "identifier=MRN-778",
        f"phone={PHONE}",
        f"telecom={PHONE}",
        "family=欧阳",
        "name=欧阳明",
        "name=欧",
        "given=明月",
        "name:exact=欧阳明月",
        "address-city=杭州",
    ],
)
def test_searches_on_sealed_identifiers_still_work(sealed, query: str) -> None:  # noqa: ANN001
    fhir, _ = sealed
    pid = fhir.post("Patient", patient()).resource()["id"]
    other = {k: v for k, v in patient().items() if k not in ("telecom", "address")}
    other["identifier"] = [{"system": RESIDENT_ID, "value": "110101199003077777"}]
    other["name"] = [{"family": "李", "given": ["娜"]}]
    fhir.post("Patient", other)
    assert ids(fhir.get(f"Patient?{query}").resource()) == [pid]


def test_searches_that_cannot_work_on_hashes_are_refused(sealed) -> None:  # noqa: ANN001
    fhir, _ = sealed
    fhir.post("Patient", patient())
    with pytest.raises(FhirError) as err:
        fhir.get("Patient?name:contains=明")
    assert err.value.status == 400


def test_chained_and_conditional_searches_use_the_hashes(sealed) -> None:  # noqa: ANN001
    fhir, _ = sealed
    pid = fhir.post("Patient", patient()).resource()["id"]
    fhir.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    )
    assert len(fhir.get(f"Observation?subject:Patient.identifier={RID}").resource()["entry"]) == 1
    again = fhir.post("Patient", patient(), if_none_exist=f"identifier={RESIDENT_ID}|{RID}")
    assert again.status == 200 and again.resource()["id"] == pid


def test_keys_rotate_and_old_records_are_resealed(sealed, engine) -> None:  # noqa: ANN001
    from yilian.crypto.rotation import codec_for, reseal, rotate

    fhir, settings = sealed
    pid = fhir.post("Patient", patient()).resource()["id"]
    fhir.put(f"Patient/{pid}", {**patient(), "id": pid, "gender": "other"})
    old_key = codec_for(settings).keys.active
    new_keys = rotate(settings)
    assert new_keys.active != old_key and old_key in new_keys.keys
    codec = codec_for(settings)
    assert reseal(engine, codec) >= 2  # the current version and the one in history (and the MPI Person)
    fresh = Fhir(build_gate(settings, engine), HIS)
    assert fresh.get(f"Patient/{pid}/_history/1").resource()["identifier"][0]["value"] == RID
    assert ids(fresh.get(f"Patient?identifier={RID}").resource()) == [pid]
    with engine.connect() as conn:
        contents = [
            bytes(r[0]) for r in conn.execute(text("SELECT content FROM resources WHERE type='Patient'"))
        ]
    assert all(codec.key_of(c) == new_keys.active for c in contents)
    assert reseal(engine, codec) == 0


def test_without_the_key_nothing_opens(sealed, engine, tmp_path) -> None:  # noqa: ANN001
    fhir, settings = sealed
    pid = fhir.post("Patient", patient()).resource()["id"]
    stranger = settings.model_copy(update={"key_dir": str(tmp_path / "other-keys")})
    with pytest.raises(Exception):  # noqa: B017 - a wrong key fails authentication (InvalidTag/RuntimeError)
        Fhir(build_gate(stranger, engine), HIS).get(f"Patient/{pid}")


def test_a_transaction_seals_its_patient_and_stores_the_rest_as_it_is(sealed, engine) -> None:  # noqa: ANN001
    """One batch of creates: the Patient's row and index rows sealed, its Observations' rows exactly as
    without encryption (only sealed types are rebuilt), each resource with its own rows and compartment."""
    fhir, _ = sealed
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "血压"},
        "subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"},
        "identifier": [{"system": "urn:obs", "value": "O-1"}],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            *(
                {
                    "resource": {**observation, "identifier": [{"system": "urn:obs", "value": f"O-{n}"}]},
                    "request": {"method": "POST", "url": "Observation"},
                }
                for n in range(2)
            ),
        ],
    }
    locations = [e["response"]["location"] for e in fhir.post("", bundle).resource()["entry"]]
    pid = locations[0].split("/_history")[0].rsplit("/", 1)[1]
    stored = raw_database(engine)
    for secret in (RID, PHONE, "欧阳", "MRN-778"):
        assert secret not in stored, secret
    assert "O-0" in stored and "O-1" in stored  # the Observations' identifiers stay searchable as they are
    assert ids(fhir.get(f"Observation?identifier=urn:obs|O-1&patient={pid}").resource()) != []
    assert fhir.get(f"Patient/{pid}/$everything").resource()["total"] == 3
    assert fhir.get(f"Patient?identifier={RESIDENT_ID}|{RID}").resource()["entry"][0]["resource"]["id"] == pid

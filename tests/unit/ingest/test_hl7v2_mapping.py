"""HL7 v2 messages to FHIR: what each message type writes, code mapping, and the keys that make replays
harmless."""

from __future__ import annotations

import pytest
from v2_fixtures import CODES, adt, msh, oru

from yilian.alliance.codes import RESIDENT_ID
from yilian.fhir.validation import validate
from yilian.ingest.codes import LOINC, NHSA_DRUG, CodeMap, local_system
from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.mapper import map_message
from yilian.ingest.hl7v2.message import Message
from yilian.ingest.hl7v2.types import ts


def mapped(text: str, tables: dict | None = None):  # noqa: ANN201
    result = map_message(Message(text), "m-a", CodeMap("m-a", tables or CODES))
    assert validate(result.bundle) == []
    return result


def of(bundle: dict, rtype: str) -> list[dict]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_oru_maps_local_lab_codes_to_loinc_and_counts_the_unmapped():
    result = mapped(oru())
    (patient,) = of(result.bundle, "Patient")
    assert patient["request"]["ifNoneExist"].endswith("urn:oid:2.16.156.10011.1.2.1|A1001")
    assert {i["system"] for i in patient["resource"]["identifier"]} == {
        "urn:oid:2.16.156.10011.1.2.1",
        RESIDENT_ID,
    }
    assert patient["resource"]["name"][0] == {
        "use": "official",
        "text": "张伟",
        "family": "张",
        "given": ["伟"],
    }
    glucose, potassium = (e["resource"] for e in of(result.bundle, "Observation"))
    assert glucose["code"]["coding"][0] == {"system": LOINC, "code": "14771-0"}
    assert glucose["code"]["coding"][1]["system"] == local_system("m-a", "lab")  # the local code is kept
    assert glucose["valueQuantity"] == {
        "value": 9.8,
        "unit": "mmol/L",
        "system": "http://unitsofmeasure.org",
        "code": "mmol/L",
    }
    assert glucose["referenceRange"][0]["low"]["value"] == 3.9
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["effectiveDateTime"] == "2026-03-01T08:30:00+08:00"
    assert potassium["code"]["coding"] == [
        {"system": local_system("m-a", "lab"), "code": "K", "display": "钾"}
    ]
    assert [(u.kind, u.code) for u in result.unmapped] == [("lab", "K")]
    (report,) = of(result.bundle, "DiagnosticReport")
    assert report["resource"]["result"] == [
        {"reference": e["fullUrl"]} for e in of(result.bundle, "Observation")
    ]
    assert report["resource"]["issued"] == "2026-03-01T09:30:00+08:00"
    assert result.event_at == "2026-03-01T08:30:00+08:00"


def test_every_entry_is_keyed_so_a_replay_matches_instead_of_duplicating():
    for entry in mapped(oru()).bundle["entry"]:
        assert "ifNoneExist" in entry["request"] or "?identifier=" in entry["request"]["url"], entry[
            "request"
        ]


def test_a_corrected_result_updates_the_observation_it_corrects():
    bundle = mapped(oru(status="C")).bundle
    assert all(e["request"]["method"] == "PUT" for e in of(bundle, "Observation"))


def test_a_non_numeric_nm_value_is_refused_with_its_location():
    with pytest.raises(IngestError) as err:
        mapped(oru(glucose="高"))
    assert err.value.location == "OBX-5"


def test_adt_carries_visit_diagnoses_allergies_procedures_and_vitals():
    text = adt(
        "A2",
        "A08",
        extra=(
            "DG1|1||I10^高血压^I10||20260301090000+0800|F",
            "AL1|1|DA|PEN^青霉素^L|SV|皮疹|20260301",
            "PR1|1||ECG^心电图^L||20260301091000+0800",
            "OBX|1|NM|8480-6^收缩压^LN||152|mm[Hg]^^UCUM||H|||F|||20260301081000+0800",
            "OBX|2|NM|8462-4^舒张压^LN||95|mm[Hg]^^UCUM||H|||F|||20260301081000+0800",
        ),
    )
    bundle = mapped(text).bundle
    (patient,) = of(bundle, "Patient")
    assert patient["request"]["method"] == "PUT"  # ADT owns the demographics
    (enc,) = of(bundle, "Encounter")
    assert enc["resource"]["participant"][0]["individual"]["display"] == "李明"
    (cond,) = of(bundle, "Condition")
    assert cond["resource"]["code"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10",
        "code": "I10",
        "display": "高血压",
    }
    (allergy,) = of(bundle, "AllergyIntolerance")
    assert allergy["resource"]["criticality"] == "high"
    (bp,) = of(bundle, "Observation")  # systolic and diastolic: one panel
    assert bp["resource"]["code"]["coding"][0]["code"] == "85354-9"
    assert [c["valueQuantity"]["value"] for c in bp["resource"]["component"]] == [152, 95]
    assert bp["resource"]["category"][0]["coding"][0]["code"] == "vital-signs"
    assert of(bundle, "Procedure") and of(bundle, "Practitioner")


def test_rde_prescription_with_national_drug_code():
    text = "\r".join(
        [
            msh("RDE^O11^RDE_O11", "P1"),
            adt().split("\r")[2],
            "PV1|1|O|||||||||||||||||A1001-001",
            "ORC|NW|RX9|||IP||||20260301100000+0800|||S01^李^明|||||||||||||||||O",
            "RXE|^QD|YP01^苯磺酸氨氯地平片 5mg^L|5||mg^mg||^口服，每日1次",
            "TQ1|1||QD|||30^d",
            "RXR|PO",
        ]
    )
    drugs = {"drug": {"YP01": ("氨氯地平", [{"system": NHSA_DRUG, "code": "XC08CAA040A001010100737"}])}}
    (mr,) = of(mapped(text, drugs).bundle, "MedicationRequest")
    r = mr["resource"]
    assert r["medicationCodeableConcept"]["coding"][0]["system"] == NHSA_DRUG
    assert r["status"] == "active" and r["category"][0]["coding"][0]["code"] == "outpatient"
    assert r["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 1
    assert r["dosageInstruction"][0]["route"]["coding"][0]["code"] == "26643006"
    assert r["dispenseRequest"]["expectedSupplyDuration"]["value"] == 30
    assert r["requester"]["display"] == "李明"


def test_mdm_imaging_report_with_its_study():
    text = "\r".join(
        [
            msh("MDM^T02^MDM_T02", "D1"),
            "EVN|T02|20260301110000+0800",
            adt().split("\r")[2],
            "PV1|1|O|||||||||||||||||A1001-001",
            "TXA|1|DI|TX|20260301110000+0800|||||R01^王^影||D-77|||||AU|||||R01^王^影",
            "OBR|1|D-77|D-77|CT01^胸部CT平扫^L|||20260301100000+0800|||||||||||||||||CT",
            "OBX|1|ST|113014^Study Instance UID^DCM||1.2.3.4.5",
            "OBX|2|TX|REPORT^影像诊断^L||双肺纹理增多。||||||F",
        ]
    )
    bundle = mapped(text).bundle
    (report,) = of(bundle, "DiagnosticReport")
    (study,) = of(bundle, "ImagingStudy")
    assert report["resource"]["category"][0]["coding"][0]["code"] == "RAD"
    assert report["resource"]["conclusion"] == "双肺纹理增多。"
    assert report["resource"]["imagingStudy"] == [{"reference": study["fullUrl"]}]
    assert study["resource"]["modality"][0]["code"] == "CT"
    assert study["resource"]["identifier"][0]["value"] == "urn:oid:1.2.3.4.5"


def test_a40_asks_for_the_prior_patient_to_be_retired():
    text = "\r".join(
        [
            msh("ADT^A40^ADT_A39", "M1"),
            "EVN|A40|20260301",
            adt().split("\r")[2],
            "MRG|A0999^^^&2.16.156.10011.1.2.1&ISO^MR",
        ]
    )
    result = mapped(text)
    assert result.merges[0]["prior"]["value"] == "A0999"


def test_unsupported_message_types_are_refused_by_name():
    with pytest.raises(IngestError, match="SIU\\^S12 is not one Yilian records"):
        mapped(msh("SIU^S12^SIU_S12", "S1") + "\r" + adt().split("\r")[2])


def test_times_take_china_standard_time_and_bad_dates_are_refused():
    assert ts("20260301", "X") == "2026-03-01"
    assert ts("202603010830", "X") == "2026-03-01T08:30:00+08:00"
    assert ts("20260301083000-0500", "X") == "2026-03-01T08:30:00-05:00"
    for bad in ("20260231", "2026-03-01", "20260301256000"):
        with pytest.raises(IngestError):
            ts(bad, "PID-7")

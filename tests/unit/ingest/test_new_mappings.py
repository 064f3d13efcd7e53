"""The DICOM series and instances of an imaging report (MDM OBX groups) and a community centre's
allergy export (CSV) as FHIR, and the clear errors a malformed one gets."""

from __future__ import annotations

import pytest
from v2_fixtures import CODES, adt, msh

from yilian.fhir.validation import validate
from yilian.ingest.codes import CodeMap
from yilian.ingest.csv.mapper import map_rows
from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.mapper import map_message
from yilian.ingest.hl7v2.message import Message

SOP_US = "1.2.840.10008.5.1.4.1.1.6.1"


def mdm(*obx: str) -> str:
    return (
        "\r".join(
            [
                msh("MDM^T02^MDM_T02", "D1"),
                "EVN|T02|20260301110000+0800",
                adt().split("\r")[2],
                "PV1|1|O|||||||||||||||||A1001-001",
                "TXA|1|DI|TX|20260301110000+0800|||||R01^王^影||D-77|||||AU|||||R01^王^影",
                "OBR|1|D-77|D-77|US01^腹部彩超^L|||20260301100000+0800|||||||||||||||||US",
                "OBX|1|ST|110180^Study Instance UID^DCM||1.2.3",
                *obx,
                "OBX|9|TX|REPORT^影像诊断^L||肝胆胰脾未见异常。||||||F",
            ]
        )
        + "\r"
    )


SERIES = (
    "OBX|2|ST|112002^Series Instance UID^DCM|1|1.2.3.1|||||||||20260301100500+0800",
    "OBX|3|CWE|121139^Modality^DCM|1|US^Ultrasound^DCM",
    "OBX|4|NM|00200011^Series Number^99DCMTAG|1|1",
    "OBX|5|ST|0008103E^Series Description^99DCMTAG|1|腹部彩超",
    "OBX|6|NM|00201209^Number of Series Related Instances^99DCMTAG|1|2",
    "OBX|7|CWE|00180015^Body Part Examined^99DCMTAG|1|113345001^Abdominal structure^SCT",
)


def instance(n: int, *, sop_class: bool = True, sub: str | None = None) -> tuple[str, ...]:
    at = sub or f"1.{n}"
    out = [f"OBX|8|ST|00080018^SOP Instance UID^99DCMTAG|{at}|1.2.3.1.{n}"]
    if sop_class:
        out.append(f"OBX|8|ST|00080016^SOP Class UID^99DCMTAG|{at}|{SOP_US}")
    out.append(f"OBX|8|NM|00200013^Instance Number^99DCMTAG|{at}|{n}")
    return tuple(out)


def study_of(text: str) -> dict:
    bundle = map_message(Message(text), "m-a", CodeMap("m-a", CODES)).bundle
    assert validate(bundle) == []
    (study,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ImagingStudy"]
    return study


def test_the_series_and_its_instances_become_the_studys():
    study = study_of(mdm(*SERIES, *instance(1), *instance(2)))
    assert study["numberOfSeries"] == 1 and study["numberOfInstances"] == 2
    assert study["modality"] == [
        {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "US", "display": "Ultrasound"}
    ]
    (series,) = study["series"]
    assert series["uid"] == "1.2.3.1" and series["number"] == 1 and series["description"] == "腹部彩超"
    assert series["started"] == "2026-03-01T10:05:00+08:00"
    assert series["modality"]["code"] == "US"
    assert series["bodySite"] == {
        "system": "http://snomed.info/sct",
        "code": "113345001",
        "display": "Abdominal structure",
    }
    assert series["instance"] == [
        {
            "uid": f"1.2.3.1.{n}",
            "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{SOP_US}"},
            "number": n,
        }
        for n in (1, 2)
    ]


def test_a_study_uid_alone_still_makes_a_study_without_series():
    study = study_of(mdm())
    assert study["identifier"][0]["value"] == "urn:oid:1.2.3" and "series" not in study
    assert study["modality"][0]["code"] == "US"  # from OBR-24


@pytest.mark.parametrize(
    ("obx", "message"),
    [
        ((*SERIES, *instance(1, sop_class=False)), "Instance 1.1 needs its SOP Instance UID"),
        ((*SERIES, *instance(1, sub="1")), "must name the series and the instance"),
        (SERIES[1:], "Series 1 of the study has no Series Instance UID"),
        ((*SERIES, "OBX|8|NM|00201209^Number^99DCMTAG|1|many"), "'many' is not a number"),
        (instance(1, sub="2.1"), "series 2, which has no OBX of its own"),
    ],
)
def test_a_malformed_series_is_refused_with_where_and_why(obx, message):
    with pytest.raises(IngestError, match=message):
        study_of(mdm(*obx))


# --- CSV allergies ---------------------------------------------------------------------------------

MAPPING = """
member = "m-c"
mrn_system = "urn:oid:2.16.156.10011.1.2.4"
[files.allergies]
match = "*过敏史*"
[files.allergies.columns]
allergy_no = "过敏记录编号"
mrn = "健康档案编号"
allergen_code = "过敏原代码"
allergen_name = "过敏原"
category = "过敏类别"
criticality = "危险程度"
reaction_code = "过敏反应代码"
reaction_name = "过敏反应"
severity = "反应严重程度"
recorded_at = "记录时间"
doctor_id = "医生工号"
doctor_name = "医生姓名"
[codes.allergen]
"AL1001" = { display = "青霉素类", codings = [{ system = "http://snomed.info/sct", code = "764146007" }] }
[codes.reaction]
"RE1001" = { display = "皮疹", codings = [{ system = "http://snomed.info/sct", code = "271807003" }] }
"""
HEADER = (
    "过敏记录编号,健康档案编号,过敏原代码,过敏原,过敏类别,危险程度,"
    "过敏反应代码,过敏反应,反应严重程度,记录时间,医生工号,医生姓名"
)


def allergies(row: str) -> dict:
    from yilian.ingest.csv.mapping import parse_mapping

    codes = CodeMap("m-c", parse_mapping(MAPPING).codes)
    bundle = map_rows(f"{HEADER}\n{row}\n".encode(), "csv:allergies", "m-c", MAPPING, codes).bundle
    assert validate(bundle) == []
    return bundle


def test_an_allergy_row_is_an_allergy_intolerance_with_its_reaction():
    bundle = allergies(
        "A-1,33010800400002560,AL1001,青霉素类,药物,高,RE1001,皮疹,中度,2026-03-01 08:30,S01,李明"
    )
    (item,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "AllergyIntolerance"]
    r = item["resource"]
    assert item["request"]["url"].startswith("AllergyIntolerance?identifier=")
    assert r["code"]["coding"][0] == {"system": "http://snomed.info/sct", "code": "764146007"}
    assert r["category"] == ["medication"] and r["criticality"] == "high"
    assert r["reaction"] == [
        {
            "manifestation": [
                {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "271807003"},
                        {
                            "system": "https://yilian.org/fhir/CodeSystem/local/m-c/reaction",
                            "code": "RE1001",
                            "display": "皮疹",
                        },
                    ],
                    "text": "皮疹",
                }
            ],
            "severity": "moderate",
        }
    ]
    assert r["recordedDate"] == "2026-03-01T08:30:00+08:00"
    assert r["patient"]["reference"] == "Patient?identifier=urn:oid:2.16.156.10011.1.2.4|33010800400002560"
    assert r["recorder"]["display"] == "李明"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "A-1,33010800400002560,AL1001,青霉素类,药物,极高,,,,2026-03-01,,",
            "'极高' is not a value Yilian knows for criticality",
        ),
        ("A-1,33010800400002560,,,药物,高,,,,2026-03-01,,", "过敏原代码 is empty"),
        ("A-1,33010800400002560,AL1001,青霉素类,药物,高,RE1001,皮疹,很重,2026-03-01,,", "for severity"),
    ],
)
def test_a_malformed_allergy_row_is_refused_with_the_column(row, message):
    with pytest.raises(IngestError, match=message):
        allergies(row)

"""A member's staff master file (HL7 v2 MFN^M02) and staff export (CSV `staff`) become each clinician's
Practitioner and their PractitionerRole at the member, keyed on the staff number clinical messages use."""

from __future__ import annotations

import pytest
from v2_fixtures import CODES, oru

from yilian.fhir.validation import validate
from yilian.ingest.codes import CodeMap
from yilian.ingest.csv.mapper import map_rows
from yilian.ingest.csv.mapping import parse_mapping
from yilian.ingest.errors import (
    REQUIRED_MISSING,
    SEGMENT_SEQUENCE,
    TABLE_VALUE,
    UNSUPPORTED_EVENT,
    IngestError,
)
from yilian.ingest.hl7v2.ack import build_ack
from yilian.ingest.hl7v2.mapper import map_message
from yilian.ingest.hl7v2.message import Message

STAFF = "https://yilian.org/fhir/NamingSystem/staff/m-a"
ROLE = "http://terminology.hl7.org/CodeSystem/practitioner-role"
SCT = "http://snomed.info/sct"
TABLES = {
    "staff-type": {"RY1": ("医生", [{"system": ROLE, "code": "doctor", "display": "Doctor"}])},
    "department": {"KS4": ("心血管内科", [{"system": SCT, "code": "394579002"}])},
}
STF = (
    "STF|S01^李明^L|S01^^^m-a^EI~110101198001011234^^^&2.16.156.10011.1.12&ISO^NI|李^明^^^^^L|RY1|M|"
    "19800101|A|KS4^心血管内科^L||13800001234^WPN^CP||||||||主任医师"
)


def mfn(*records: str, version: str = "2.5.1", event: str = "M02", mfi: str = "STF^Staff^HL70175") -> str:
    msh = f"MSH|^~\\&|HRP|m-a|YILIAN|ALLIANCE|20260301090000+0800||MFN^{event}^MFN_M02|F1|P|{version}"
    return "\r".join([msh, f"MFI|{mfi}||UPD|||AL", *records]) + "\r"


def record(
    event: str = "MAD", stf: str = STF, *more: str, key: str = "S01^李明^L", when: str = ""
) -> list[str]:
    return [f"MFE|{event}|R1|{when}|{key}|CWE", stf, *more]


def mapped(text: str) -> dict:
    bundle = map_message(Message(text), "m-a", CodeMap("m-a", TABLES)).bundle
    assert validate(bundle) == []
    return bundle


def resources(bundle: dict) -> dict[str, tuple[dict, dict]]:
    """type -> (resource, request); one of each per staff member in these tests."""
    found = [(e["resource"], e["request"]) for e in bundle["entry"]]
    assert len({r["resourceType"] for r, _ in found}) == len(found)
    return {r["resourceType"]: (r, req) for r, req in found}


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1"])
def test_an_added_clinician_is_a_practitioner_with_sex_and_title_and_a_role_at_the_member(version):
    org = "ORG|1|KS4^心血管内科^L||Y|||||20150801"
    bundle = mapped(mfn(*record("MAD", STF, "PRA|S01^李明^L||RY1", org), version=version))
    (p, p_req), (role, role_req) = resources(bundle)["Practitioner"], resources(bundle)["PractitionerRole"]
    assert p_req == {"method": "PUT", "url": f"Practitioner?identifier={STAFF}|S01"}
    assert role_req == {"method": "PUT", "url": f"PractitionerRole?identifier={STAFF}/role|S01"}
    assert p["identifier"][0] == {"system": STAFF, "value": "S01"}
    assert [i["value"] for i in p["identifier"]] == ["S01", "110101198001011234"]  # STF-2's S01 is the key
    assert p["name"][0]["text"] == "李明" and p["gender"] == "male" and p["birthDate"] == "1980-01-01"
    assert p["telecom"] == [{"system": "phone", "value": "13800001234", "use": "mobile"}]
    assert p["qualification"] == [{"code": {"text": "主任医师"}}] and p["active"] is True
    assert role["practitioner"] == {"reference": bundle["entry"][0]["fullUrl"], "display": "李明"}
    assert role["organization"] == {"reference": "Organization/m-a"} and role["active"] is True
    assert role["code"][0]["coding"][0] == {"system": ROLE, "code": "doctor", "display": "Doctor"}
    assert role["code"][0]["text"] == "主任医师"
    assert role["specialty"][0]["coding"][0] == {"system": SCT, "code": "394579002"}
    assert role["specialty"][0]["text"] == "心血管内科"
    assert role["period"] == {"start": "2015-08-01"}


def test_licences_specialisation_and_practitioner_specialties_are_kept():
    pra = "PRA|S01^李明^L||RY1||主任医师资格^卫健委|110330000012345^MDL^^20301231"
    org = "ORG|1|KS4^心血管内科^L||Y||||394579002^^SCT|20150801^20251231"
    p, role = (r for r, _ in resources(mapped(mfn(*record("MAD", STF, pra, org)))).values())
    licence = p["qualification"][1]
    assert licence["identifier"][0]["value"] == "110330000012345"
    assert licence["code"]["coding"][0]["code"] == "MDL" and licence["period"] == {"end": "2030-12-31"}
    assert role["specialty"][0] == {"coding": [{"system": SCT, "code": "394579002"}], "text": "心血管内科"}
    assert role["specialty"][1] == {"text": "主任医师资格"}  # PRA-5, the specialty's name
    assert role["period"] == {"start": "2015-08-01", "end": "2025-12-31"}


def test_an_update_rewrites_the_record_and_the_last_record_of_a_clinician_counts():
    moved = STF.replace("主任医师", "副主任医师").replace("13800001234", "13900005678")
    bundle = mapped(mfn(*record("MAD"), *record("MUP", moved)))
    p, role = (r for r, _ in resources(bundle).values())  # one entry each, as the last record says
    assert p["qualification"] == [{"code": {"text": "副主任医师"}}]
    assert p["telecom"][0]["value"] == "13900005678" and role["code"][0]["text"] == "副主任医师"


@pytest.mark.parametrize("event", ["MDC", "MDL"])
def test_a_deactivated_or_deleted_clinician_is_kept_inactive_with_the_role_ended(event):
    bundle = mapped(mfn(*record(event, when="20260228170000+0800")))
    (p, p_req), (role, role_req) = resources(bundle).values()
    assert p_req["method"] == role_req["method"] == "PUT"  # nothing is deleted: records still name them
    assert p["active"] is False and role["active"] is False
    assert role["period"] == {"end": "2026-02-28T17:00:00+08:00"}
    undated = resources(mapped(mfn(*record(event))))["PractitionerRole"][0]
    assert undated["period"] == {"end": "2026-03-01T09:00:00+08:00"}  # when the message was sent


def test_stf_7_says_inactive_and_a_reactivation_overrides_it():
    inactive = STF.replace("|19800101|A|", "|19800101|I|")
    assert resources(mapped(mfn(*record("MUP", inactive))))["Practitioner"][0]["active"] is False
    back = resources(mapped(mfn(*record("MAC", inactive))))
    assert back["Practitioner"][0]["active"] is True and back["PractitionerRole"][0]["active"] is True
    assert "period" not in back["PractitionerRole"][0]


def test_the_practitioner_file_alone_and_unmapped_staff_types_are_recorded():
    bundle = map_message(
        Message(mfn(*record("MAD", STF.replace("|RY1|", "|RY9|")), mfi="PRA")), "m-a", CodeMap("m-a", TABLES)
    )
    role = resources(bundle.bundle)["PractitionerRole"][0]
    assert role["code"][0]["coding"][0]["code"] == "RY9"
    assert [(u.kind, u.code) for u in bundle.unmapped] == [("staff-type", "RY9")]


@pytest.mark.parametrize(
    ("records", "location", "code", "message"),
    [
        (
            record(key="", stf=STF.replace("STF|S01^李明^L|", "STF||")),
            "MFE-4",
            REQUIRED_MISSING,
            "cannot be identified",
        ),
        (
            record(key="S02"),
            "STF-1",
            TABLE_VALUE,
            r"STF-1 \(S01\) is not the key of its record, MFE-4 \(S02\)",
        ),
        (record(stf=STF.replace("19800101", "19800230")), "STF-6", "102", "not a real date"),
        (record(stf=STF.replace("|19800101|A|", "|19800101|X|")), "STF-7", TABLE_VALUE, "active/inactive"),
        (record("MXX"), "MFE-1", TABLE_VALUE, "not a record-level event"),
        (["MFE|MAD|R1||S01|CWE"], "STF", REQUIRED_MISSING, "has no STF segment"),
        ([STF, *record()], "STF", SEGMENT_SEQUENCE, "not inside a record"),
        ([], "MFE", REQUIRED_MISSING, "no record"),
    ],
)
def test_a_malformed_record_is_refused_naming_segment_and_field(records, location, code, message):
    text = mfn(*records)
    with pytest.raises(IngestError, match=message) as err:
        map_message(Message(text), "m-a", CodeMap("m-a", TABLES))
    assert (err.value.location, err.value.code) == (location, code)


def test_stf_1_alone_may_key_the_record():
    p = resources(mapped(mfn(*record(key=""))))["Practitioner"][0]
    assert p["identifier"][0] == {"system": STAFF, "value": "S01"}


def test_other_master_files_are_refused():
    with pytest.raises(IngestError, match="MFI-1 'LOC' is not the staff") as err:
        map_message(Message(mfn(*record(), mfi="LOC")), "m-a", CodeMap("m-a"))
    assert err.value.code == TABLE_VALUE
    with pytest.raises(IngestError, match="MFN\\^M05 is not one Yilian records") as err:
        map_message(Message(mfn(*record(), event="M05")), "m-a", CodeMap("m-a"))
    assert (err.value.location, err.value.code) == ("MSH-9", UNSUPPORTED_EVENT)


# --- the acknowledgement: MFK ----------------------------------------------------------------------


def segments(ack: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for line in filter(None, ack.split("\r")):
        out.setdefault(line[:3], []).append(line.split("|"))
    return out


def test_an_mfn_is_answered_with_an_mfk_naming_each_record():
    text = mfn(*record(), *record("MUP", key="S02^王芳^L", stf=STF.replace("S01^李明", "S02^王芳")))
    ok = segments(build_ack(text, "processed", "Recorded as message 7 (4 resources)"))
    assert ok["MSH"][0][8] == "MFK^M02^MFK_M01" and ok["MSA"][0][1:3] == ["AA", "F1"]
    assert ok["MFI"] == [["MFI", "STF^Staff^HL70175", "", "UPD", "", "", "AL"]]
    assert [(m[1], m[4], m[5], m[6]) for m in ok["MFA"]] == [
        ("MAD", "S^Successful posting^HL70181", "S01", "CWE"),
        ("MUP", "S^Successful posting^HL70181", "S02", "CWE"),
    ]
    nak = segments(build_ack(text, "rejected", "bad date", code="102", location="STF-6"))
    assert nak["MSA"][0][1] == "AE" and nak["ERR"][0][2] == "STF^1^6"
    assert {m[4] for m in nak["MFA"]} == {"U^Unsuccessful posting^HL70181"}
    assert "ACK^R01^ACK" in build_ack(oru("C1"), "processed", "ok")  # other messages: a plain ACK


@pytest.mark.parametrize(
    ("level", "posted", "records"),
    [("NE", True, 0), ("ER", True, 0), ("ER", False, 1), ("SU", True, 1), ("SU", False, 0)],
)
def test_mfi_6_says_which_records_the_mfk_names(level, posted, records):
    text = mfn(*record()).replace("||UPD|||AL", f"||UPD|||{level}")
    ack = segments(build_ack(text, "processed" if posted else "rejected", "..."))
    assert ack["MFI"][0][6] == level and len(ack.get("MFA", [])) == records


# --- through the pipeline: the roster first, then a message that names the clinician ---------------


def test_a_clinician_named_by_a_result_is_the_rosters_practitioner(gate, fhir):
    from yilian.ingest import store
    from yilian.ingest.intake import hl7_items
    from yilian.ingest.mllp import answer
    from yilian.ingest.pipeline import ingest

    fhir.put("Organization/m-a", {"resourceType": "Organization", "id": "m-a", "name": "甲医院"})
    store.save_code_tables(gate.engine, "m-a", {**CODES, **TABLES})
    roster = mfn(*record("MAD", STF, "ORG|1|KS4^心血管内科^L||Y|||||20150801"))
    result = oru("C1").replace("|||F\r", "|||F|||||||S01&李&明\r", 1)  # OBR-32: who reported it
    outcomes = ingest(gate, [*hl7_items(roster.encode()), *hl7_items(result.encode())])
    assert [r.status for r in outcomes] == ["processed", "processed"], [r.error for r in outcomes]
    (p,) = [e["resource"] for e in fhir.get("Practitioner").resource()["entry"]]
    assert (p["gender"], p["qualification"][0]["code"]["text"]) == ("male", "主任医师")
    (role,) = [e["resource"] for e in fhir.get("PractitionerRole").resource()["entry"]]
    assert role["practitioner"]["reference"] == f"Practitioner/{p['id']}"
    (report,) = [e["resource"] for e in fhir.get("DiagnosticReport").resource()["entry"]]
    assert report["resultsInterpreter"][0]["reference"] == f"Practitioner/{p['id']}"
    # the clinician leaves, sent to the listener: an MFK back, the same two resources, inactive
    left = mfn(*record("MDC", when="20260401")).replace("|F1|", "|F2|")
    ack = segments(answer(gate, left.encode(), None, "127.0.0.1:1"))
    assert ack["MSH"][0][8] == "MFK^M02^MFK_M01" and ack["MSA"][0][1:3] == ["AA", "F2"]
    assert [(m[1], m[4].split("^")[0], m[5]) for m in ack["MFA"]] == [("MDC", "S", "S01")]
    assert fhir.get(f"Practitioner/{p['id']}").resource()["active"] is False
    assert fhir.get("PractitionerRole?active=false").resource()["total"] == 1


# --- the CSV staff export --------------------------------------------------------------------------

MAPPING = """
member = "m-c"
[files.staff]
match = "*人员信息*"
[files.staff.columns]
staff_no = "工号"
name = "姓名"
gender = "性别"
birth_date = "出生日期"
phone = "手机号码"
title = "职称"
role = "人员类别"
department_code = "科室代码"
department = "科室名称"
start = "入职日期"
active = "在岗状态"
[files.staff.values.role]
"RY2" = "nurse"
[codes.department]
KS1 = { system = "http://snomed.info/sct", code = "394814009", display = "全科医学科" }
"""
HEADER = "工号,姓名,性别,出生日期,手机号码,职称,人员类别,科室代码,科室名称,入职日期,在岗状态"


def staff_rows(row: str) -> dict[str, dict]:
    codes = CodeMap("m-c", parse_mapping(MAPPING).codes)
    bundle = map_rows(f"{HEADER}\n{row}\n".encode(), "csv:staff", "m-c", MAPPING, codes).bundle
    assert validate(bundle) == []
    return {e["resource"]["resourceType"]: e for e in bundle["entry"]}


def test_a_staff_row_is_a_practitioner_and_their_role_at_the_centre():
    found = staff_rows("C-s01,黄涛,男,1978-03-04,17609107490,主治医师,医生,KS1,全科医学科,2013-04-01,在职")
    p, role = found["Practitioner"]["resource"], found["PractitionerRole"]["resource"]
    assert found["Practitioner"]["request"]["url"] == (
        "Practitioner?identifier=https://yilian.org/fhir/NamingSystem/staff/m-c|C-s01"
    )
    assert found["PractitionerRole"]["request"]["url"].endswith("/staff/m-c/role|C-s01")
    assert (p["name"][0]["text"], p["gender"], p["birthDate"]) == ("黄涛", "male", "1978-03-04")
    assert p["qualification"] == [{"code": {"text": "主治医师"}}] and p["active"] is True
    assert p["telecom"] == [{"system": "phone", "value": "17609107490", "use": "mobile"}]
    assert role["code"] == [
        {"coding": [{"system": ROLE, "code": "doctor", "display": "Doctor"}], "text": "主治医师"}
    ]
    assert role["specialty"][0]["coding"][0] == {"system": SCT, "code": "394814009"}
    assert role["specialty"][0]["text"] == "全科医学科"
    assert role["organization"] == {"reference": "Organization/m-c"}
    assert role["period"] == {"start": "2013-04-01"} and role["practitioner"]["display"] == "黄涛"


def test_a_staff_row_in_the_members_own_codes_and_a_leaver():
    found = staff_rows("C-s02,周敏,女,1985/05/06,,护师,RY2,KS9,预防接种门诊,2015/01/01,离职")
    p, role = found["Practitioner"]["resource"], found["PractitionerRole"]["resource"]
    assert role["code"][0]["coding"][0]["code"] == "nurse" and p["gender"] == "female"
    assert p["active"] is False and role["active"] is False and "telecom" not in p
    assert role["specialty"][0]["text"] == "预防接种门诊"  # an unmapped department keeps its own code


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (",黄涛,男,1978-03-04,,主治医师,医生,,,,", "工号 is empty"),
        ("C-s01,黄涛,男,1978-03-04,,主治医师,厨师,,,,", "'厨师' is not a value Yilian knows for role"),
        ("C-s01,黄涛,男,1978-03-04,,主治医师,医生,,,,休假", "for active"),
        ("C-s01,黄涛,男,1978-02-30,,主治医师,医生,,,,", "not a real date"),
    ],
)
def test_a_malformed_staff_row_is_refused_with_the_column(row, message):
    with pytest.raises(IngestError, match=message):
        staff_rows(row)

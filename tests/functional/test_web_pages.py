"""The web shell over HTTP: sign-in, the alliance home, patient search, the integrated timeline, languages.

Data is created through the router as the members' systems would send it, and pages are read as signed-in
users, so these tests also check that a page shows only what the gate lets that user see.
"""

from __future__ import annotations

from datetime import date

import pytest

from yilian.alliance.codes import ALLIANCE_MODEL, ALLIANCE_MODEL_EXT, MEMBER_TYPE, RESIDENT_ID
from yilian.testing.plugin import caller, consent_resource, sign_in
from yilian.web import display, summary, timeline
from yilian.web.session import make_session, read_session

RID = "330106195802011234"  # a well-formed resident ID (check digit 4)
HIS_A = caller("member-system", "m-a", "HOPERAT")
HIS_B = caller("member-system", "m-b", "HOPERAT")
INTERP = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def org(org_id: str, kind: str, name: str, **extra) -> dict:  # noqa: ANN003
    return {
        "resourceType": "Organization",
        "id": org_id,
        "name": name,
        "active": True,
        "type": [{"coding": [{"system": MEMBER_TYPE, "code": kind}]}],
        "address": [{"text": f"{name}地址"}],
        **extra,
    }


def patient(family: str, given: str, mrn: str, rid: str | None = None, phone: str | None = None) -> dict:
    ids = [
        {"type": {"coding": [{"code": "MR"}], "text": "病案号"}, "system": f"urn:mrn:{mrn[:1]}", "value": mrn}
    ]
    if rid:
        ids.append({"system": RESIDENT_ID, "value": rid})
    p = {
        "resourceType": "Patient",
        "identifier": ids,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": "male",
        "birthDate": "1958-02-01",
    }
    if phone:
        p["telecom"] = [{"system": "phone", "value": phone}]
    return p


@pytest.fixture
def alliance(fhir):
    """An alliance of two members; 张伟 registered at both (same resident ID), 李娜 only at B."""
    fhir.put(
        "Organization/al",
        org(
            "al",
            "alliance",
            "测试医联体",
            extension=[
                {
                    "url": ALLIANCE_MODEL_EXT,
                    "valueCoding": {"system": ALLIANCE_MODEL, "code": "county-medical-community"},
                }
            ],
        ),
    )
    fhir.put(
        "Organization/m-a", org("m-a", "tertiary-hospital", "甲医院", partOf={"reference": "Organization/al"})
    )
    fhir.put(
        "Organization/m-b",
        org("m-b", "community-health-centre", "乙社区卫生服务中心", partOf={"reference": "Organization/al"}),
    )
    a, b = fhir.as_(HIS_A), fhir.as_(HIS_B)
    pa = a.post("Patient", patient("张", "伟", "A100", RID, "13800001234")).resource()["id"]
    pb = b.post("Patient", patient("张", "伟", "B200", RID)).resource()["id"]
    li = b.post("Patient", patient("李", "娜", "B300")).resource()["id"]
    # 张伟 agreed, at both members, that the alliance's members may use his records to treat him.
    a.post("Consent", consent_resource(pa))
    b.post("Consent", consent_resource(pb))
    b.post("Consent", consent_resource(li))
    a.post(
        "Condition",
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{pa}"},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": "原发性高血压"},
            "recordedDate": "2025-03-01",
        },
    )
    b.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "空腹血糖"},
            "subject": {"reference": f"Patient/{pb}"},
            "effectiveDateTime": "2025-04-02T09:00:00+08:00",
            "valueQuantity": {"value": 9.8, "unit": "mmol/L"},
            "interpretation": [{"coding": [{"system": INTERP, "code": "H"}]}],
        },
    )
    b.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "血压"},
            "subject": {"reference": f"Patient/{li}"},
            "effectiveDateTime": "2025-05-01",
        },
    )
    return {"pa": pa, "pb": pb, "li": li}


# ---- sign-in ----------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get("/patients?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")
    hx = client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert hx.headers["HX-Redirect"].startswith("/signin")


def test_a_bad_token_gives_a_readable_error(client, tokens):
    response = client.post("/signin", data={"token": "nope"})
    assert response.status_code == 401
    assert "访问令牌无效" in response.text and "Traceback" not in response.text
    assert "yilian_session" not in response.cookies


def test_a_tampered_or_expired_session_is_anonymous(client, tokens, settings):
    good = make_session("dr.li", settings.secret_key, 1, now=1000)
    assert read_session(good, settings.secret_key, now=2000) == "dr.li"
    assert read_session(good, settings.secret_key, now=1000 + 3601) is None
    assert read_session(good, "another key", now=2000) is None
    assert read_session(good.replace(".", "x."), settings.secret_key, now=2000) is None
    client.cookies.set("yilian_session", "forged.value")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_shows_the_alliance_and_its_members(client, tokens, alliance):
    response = client.post(
        "/signin", data={"token": tokens["clinician"], "next": "//evil.example"}, follow_redirects=False
    )
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200
    for text in ("测试医联体", "县域医共体", "甲医院", "三级医院", "乙社区卫生服务中心", "李医生"):
        assert text in home.text
    assert client.get("/signout", follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_demo_mode_lists_demo_users_only_when_on(client, engine):
    from yilian.gate.users import add_user

    add_user(engine, "dr.zhang", "张医生 Dr Zhang", None, ["clinician"], token="demo-clinician")
    assert "demo-clinician" not in client.get("/signin").text  # settings.demo is False in tests


# ---- search -----------------------------------------------------------------------------------------


def test_patient_search_by_name_identifier_and_phone(client, tokens, alliance):
    sign_in(client, tokens["clinician"])
    partial = client.get("/patients", params={"q": "张"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert f"/patients/{alliance['pa']}" in partial.text and f"/patients/{alliance['pb']}" in partial.text
    assert "甲医院" in partial.text and "乙社区卫生服务中心" in partial.text  # both registrations, one person
    assert "330106********1234" in partial.text and RID not in partial.text
    assert "李" not in partial.text
    by_mrn = client.get("/patients", params={"q": "B300"})
    assert "<html" in by_mrn.text and f"/patients/{alliance['li']}" in by_mrn.text
    assert f"/patients/{alliance['pa']}" in client.get("/patients", params={"q": "13800001234"}).text
    assert "未找到匹配的患者" in client.get("/patients", params={"q": "王"}).text


def test_member_system_user_searches_only_its_own_member(client, tokens, alliance):
    sign_in(client, tokens["member"])  # the HIS of member A
    found = client.get("/patients", params={"q": "张"}).text
    assert f"/patients/{alliance['pa']}" in found and f"/patients/{alliance['pb']}" not in found
    assert f"/patients/{alliance['li']}" not in client.get("/patients", params={"q": "李"}).text


# ---- timeline -----------------------------------------------------------------------------------------


def test_timeline_integrates_two_members(client, tokens, alliance):
    sign_in(client, tokens["clinician"])
    page = client.get(f"/patients/{alliance['pa']}")
    assert page.status_code == 200
    assert "张伟" in page.text and "330106********1234" in page.text and "138****1234" in page.text
    assert "原发性高血压" in page.text and "空腹血糖" in page.text and "9.8" in page.text
    assert 'data-member="m-a"' in page.text and 'data-member="m-b"' in page.text
    assert "甲医院" in page.text and "乙社区卫生服务中心" in page.text
    assert "血压" not in page.text.replace("高血压", "")  # 李娜's observation stays on her record
    only_b = client.get(
        f"/patients/{alliance['pa']}",
        params={"member": "m-b"},
        headers={"HX-Request": "true", "HX-Target": "timeline"},
    )
    assert "<html" not in only_b.text and "空腹血糖" in only_b.text and "原发性高血压" not in only_b.text
    only_dx = client.get(f"/patients/{alliance['pa']}", params={"kind": "condition"})
    assert 'data-kind="condition"' in only_dx.text and 'data-kind="observation"' not in only_dx.text


def test_member_system_user_gets_404_for_another_members_patient(client, tokens, alliance):
    sign_in(client, tokens["member"])
    page = client.get(f"/patients/{alliance['li']}")
    assert page.status_code == 404
    assert "未找到" in page.text and "Not found" in page.text and "Traceback" not in page.text
    own = client.get(f"/patients/{alliance['pa']}")
    assert own.status_code == 200 and "原发性高血压" in own.text and "空腹血糖" not in own.text


def test_language_toggle_switches_strings_and_sticks(client, tokens, alliance):
    sign_in(client, tokens["clinician"])
    assert "成员单位" in client.get("/").text
    english = client.get("/?lang=en")
    assert "Members" in english.text and "成员单位" not in english.text and 'lang="en"' in english.text
    assert "Timeline" in client.get(f"/patients/{alliance['pa']}").text  # remembered by the cookie
    assert "诊疗时间轴" in client.get(f"/patients/{alliance['pa']}?lang=zh").text


# ---- pure helpers ------------------------------------------------------------------------------------


def tagged(resource: dict, member: str) -> dict:
    from yilian.alliance.codes import SOURCE_MEMBER

    return {**resource, "meta": {"tag": [{"system": SOURCE_MEMBER, "code": member}]}}


def test_timeline_entries_fold_report_results_and_sort_newest_first():
    obs = tagged(
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "肌酐"},
            "effectiveDateTime": "2025-01-02T09:00:00+08:00",
            "valueQuantity": {"value": 159, "unit": "umol/L"},
            "interpretation": [{"coding": [{"code": "H"}]}],
            "referenceRange": [{"low": {"value": 57}, "high": {"value": 111, "unit": "umol/L"}}],
        },
        "m-a",
    )
    report = tagged(
        {
            "resourceType": "DiagnosticReport",
            "id": "r1",
            "status": "final",
            "code": {"text": "生化"},
            "effectiveDateTime": "2025-01-02T09:00:00+08:00",
            "result": [{"reference": "Observation/o1"}],
        },
        "m-a",
    )
    bp = tagged(
        {
            "resourceType": "Observation",
            "id": "o2",
            "status": "final",
            "code": {"text": "血压"},
            "effectiveDateTime": "2025-03-01",
            "component": [
                {
                    "code": {"text": "收缩压"},
                    "valueQuantity": {"value": 152, "unit": "mm[Hg]"},
                    "interpretation": [{"coding": [{"code": "H"}]}],
                },
                {"code": {"text": "舒张压"}, "valueQuantity": {"value": 88, "unit": "mm[Hg]"}},
            ],
        },
        "m-b",
    )
    junk = {
        "resourceType": "Condition",
        "id": "c0",
        "recordedDate": "2025-05-01",
        "code": {"text": "x"},
        "verificationStatus": {"coding": [{"code": "entered-in-error"}]},
    }
    items = timeline.entries([obs, report, bp, junk, {"resourceType": "Practitioner", "id": "p"}])
    assert [e.ref for e in items] == ["Observation/o2", "DiagnosticReport/r1"]
    assert items[0].results == (
        timeline.Result("收缩压", "152", "mmHg", "H"),
        timeline.Result("舒张压", "88", "mmHg"),
    )
    assert items[1].kind == "report" and items[1].member == "m-a" and items[1].flagged
    assert items[1].results[0].range == "57-111 umol/L"
    assert [d for d, _ in timeline.by_day(items)] == ["2025-03-01", "2025-01-02"]
    assert timeline.select(items, member="m-a") == [items[1]]
    assert timeline.select(items, kind="observation") == [items[0]]
    assert timeline.members_of(items) == ["m-b", "m-a"]


def test_timeline_entry_kinds_and_details():
    refs = [
        {"resourceType": "Practitioner", "id": "d1", "name": [{"family": "郭", "given": ["晓东"]}]},
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"display": "ambulatory"},
            "type": [{"text": "门诊"}],
            "period": {"start": "2025-02-01T08:30:00+08:00"},
            "participant": [{"individual": {"reference": "Practitioner/d1"}}],
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "authoredOn": "2025-02-01",
            "medicationCodeableConcept": {"coding": [{"display": "Amlodipine 5 mg"}]},
            "dosageInstruction": [{"text": "口服，每日1次"}],
        },
        {
            "resourceType": "ImagingStudy",
            "id": "i1",
            "started": "2025-02-02",
            "numberOfSeries": 1,
            "numberOfInstances": 2,
            "modality": [{"code": "DX"}],
            "procedureCode": [{"text": "胸部X线"}],
        },
    ]
    items = {e.kind: e for e in timeline.entries(refs)}
    assert items["encounter"].title == "门诊" and ("detail.clinician", "郭晓东") in items["encounter"].facts
    assert items["encounter"].time == "08:30"
    assert items["medication"].title == "Amlodipine 5 mg" and items["medication"].text == "口服，每日1次"
    assert ("detail.images", "2") in items["imaging"].facts


def test_summaries_merge_the_same_fact_from_several_members():
    htn = {"coding": [{"system": "icd", "code": "I10"}]}
    resources = [
        tagged(
            {
                "resourceType": "Condition",
                "id": "1",
                "code": {**htn, "text": "高血压"},
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "onsetDateTime": "2019-01-01",
            },
            "m-a",
        ),
        tagged(
            {
                "resourceType": "Condition",
                "id": "2",
                "code": {**htn, "text": "原发性高血压"},
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "onsetDateTime": "2018-05-01",
            },
            "m-b",
        ),
        tagged(
            {
                "resourceType": "Condition",
                "id": "3",
                "code": {"text": "感冒"},
                "clinicalStatus": {"coding": [{"code": "resolved"}]},
            },
            "m-b",
        ),
        tagged(
            {
                "resourceType": "AllergyIntolerance",
                "id": "4",
                "code": {"text": "青霉素"},
                "criticality": "high",
                "reaction": [{"manifestation": [{"text": "皮疹"}]}],
            },
            "m-a",
        ),
        tagged(
            {
                "resourceType": "MedicationRequest",
                "id": "5",
                "status": "completed",
                "medicationCodeableConcept": {"text": "阿莫西林"},
            },
            "m-a",
        ),
    ]
    problems = summary.active_problems(resources)
    assert len(problems) == 1 and problems[0].since == "2018-05-01" and problems[0].members == ["m-a", "m-b"]
    assert [(a.title, a.detail, a.flag) for a in summary.allergies(resources)] == [("青霉素", "皮疹", "high")]
    assert summary.current_medications(resources) == []


def test_display_masks_and_ages():
    assert display.mask_resident_id(RID) == "330106********1234"
    assert display.mask_phone("13812345678") == "138****5678"
    assert display.age("1958-02-01", date(2026, 1, 31)) == 67
    assert display.age("1958", date(2026, 1, 31)) is None
    assert (
        display.patient_name(
            {
                "name": [
                    {"use": "usual", "family": "Zhang", "given": ["Wei"]},
                    {"use": "official", "family": "张", "given": ["伟"]},
                ]
            }
        )
        == "张伟"
    )


def test_i18n_falls_back_sensibly():
    from yilian.web import i18n

    assert i18n.translate("en", "patient.timeline") == "Timeline"
    assert i18n.translate("fr", "patient.timeline") == "诊疗时间轴"  # unknown language: Chinese
    assert i18n.translate("en", "no.such.key") == "no.such.key"  # visible, not blank
    assert i18n.status_label("zh", "condition", "active") == "现患"
    assert i18n.status_label("zh", "medication", "active") == "在用"
    assert i18n.status_label("en", "condition", "active") == "active"
    assert i18n.status_label("zh", "report", "registered") == "registered"
    assert i18n.pick_lang(None, "en") == "en" and i18n.pick_lang("zh", "en") == "zh"
    assert i18n.pick_lang("xx", None) == "zh"
    assert set(i18n.ZH) == set(i18n.EN) | {
        "status.condition.active",
        "status.allergy.active",
        "status.careplan.active",
    }

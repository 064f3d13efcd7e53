"""Governance in the web UI: break-glass from the not-found page, the consent notice and request, the
patient portal (give, withdraw, answer a request), the security officer's review list, password sign-in."""

from __future__ import annotations

import re

import pytest

from yilian.gate.tokens import set_password
from yilian.gate.users import add_user
from yilian.testing.plugin import caller, sign_in

HIS_A, HIS_B = caller("member-system", "m-a"), caller("member-system", "m-b")


@pytest.fixture
def world(fhir, engine):
    for org in ("m-a", "m-b"):
        fhir.put(f"Organization/{org}", {"resourceType": "Organization", "id": org, "name": f"成员{org}"})
    pa = (
        fhir.as_(HIS_A)
        .post("Patient", {"resourceType": "Patient", "name": [{"text": "吴芳"}]})
        .resource()["id"]
    )
    pb = (
        fhir.as_(HIS_B)
        .post("Patient", {"resourceType": "Patient", "name": [{"text": "吴芳"}]})
        .resource()["id"]
    )
    fhir.as_(HIS_B).post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "糖化血红蛋白 HbA1c"},
            "subject": {"reference": f"Patient/{pb}"},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": 8.1, "unit": "%"},
        },
    )
    add_user(engine, "dr.a", "甲医生", "m-a", ["clinician"], token="t-dr-a")
    add_user(engine, f"patient:{pb}", "吴芳", None, ["patient"], token="t-patient")
    add_user(engine, "officer", "安全管理员", None, ["auditor"], token="t-officer")
    return {"pa": pa, "pb": pb}


def test_break_glass_from_the_not_found_page(client, world):
    sign_in(client, "t-dr-a")
    hidden = client.get(f"/patients/{world['pb']}")
    assert hidden.status_code == 404 and "紧急调阅" in hidden.text  # the form is offered
    refused = client.post(f"/patients/{world['pb']}/break-glass", data={"reason": ""})
    assert refused.status_code == 400
    opened = client.post(f"/patients/{world['pb']}/break-glass", data={"reason": "急诊昏迷，查用药史"})
    assert opened.status_code == 200 and "紧急调阅中" in opened.text and "HbA1c" in opened.text
    sign_in(client, "t-officer")
    review = client.get("/security/break-glass")
    assert "急诊昏迷，查用药史" in review.text
    access_id = re.search(r"/security/break-glass/([0-9a-f-]+)/review", review.text).group(1)
    client.post(f"/security/break-glass/{access_id}/review", data={"note": "核实属实"})
    assert "没有待审核" in client.get("/security/break-glass").text


def test_only_officers_see_the_review_list(client, world):
    sign_in(client, "t-dr-a")
    assert client.get("/security/break-glass").status_code == 403


def test_consent_notice_request_and_the_patients_answer(client, world):
    sign_in(client, "t-dr-a")
    own = client.get(f"/patients/{world['pa']}")
    assert own.status_code == 200 and "患者尚未同意" in own.text and "HbA1c" not in own.text
    asked = client.post(f"/patients/{world['pa']}/consent-request")
    assert asked.status_code == 200 and "已向患者发送授权请求" in asked.text
    sign_in(client, "t-patient")  # the same person's portal account, on the record at member B
    portal = client.get("/portal")
    assert portal.status_code == 200 and "我的数据授权" in portal.text and "撤回后" in portal.text
    given = client.post("/portal/consents", data={"decision": "permit", "member": "m-a"})
    assert given.status_code == 200 and "撤回" in given.text
    sign_in(client, "t-dr-a")
    # The patient at member B agreed that member A may use the record: the clinician at A now finds it.
    assert "HbA1c" in client.get(f"/patients/{world['pb']}").text
    sign_in(client, "t-patient")
    consent_id = re.search(r"/portal/consents/([0-9a-f-]+)/withdraw", client.get("/portal").text).group(1)
    client.post(f"/portal/consents/{consent_id}/withdraw")
    sign_in(client, "t-dr-a")
    assert client.get(f"/patients/{world['pb']}").status_code == 404


def test_the_portal_is_for_patients(client, world):
    sign_in(client, "t-dr-a")
    assert client.get("/portal").status_code == 403


def test_password_sign_in(client, world, engine):
    set_password(engine, "dr.a", "s3cret-密码")
    client.cookies.clear()
    bad = client.post("/signin", data={"username": "dr.a", "password": "wrong"})
    assert bad.status_code == 401
    ok = client.post("/signin", data={"username": "dr.a", "password": "s3cret-密码"}, follow_redirects=False)
    assert ok.status_code == 303 and "yilian_session" in ok.cookies


def test_a_request_waits_in_the_portal_until_answered(client, world, engine):
    add_user(engine, f"patient:{world['pa']}", "吴芳", None, ["patient"], token="t-patient-a")
    sign_in(client, "t-dr-a")
    client.post(f"/patients/{world['pa']}/consent-request")
    sign_in(client, "t-patient-a")
    portal = client.get("/portal").text
    assert "待处理的授权请求" in portal and "甲医生" in portal
    client.post("/portal/consents", data={"decision": "deny", "member": "m-a"})
    portal = client.get("/portal").text
    assert "待处理的授权请求" not in portal and "拒绝" in portal


def test_staff_record_a_consent_given_at_the_desk(client, world, engine):
    add_user(engine, "clerk.b", "乙窗口", "m-b", ["clinician"], token="t-clerk-b")
    sign_in(client, "t-clerk-b")
    page = client.get(f"/patients/{world['pb']}").text
    assert "登记患者在本单位窗口给出的授权" in page
    missing = client.post(
        f"/patients/{world['pb']}/consents", data={"decision": "permit", "method": "signature"}
    )
    assert missing.status_code == 422 and "evidence" in missing.text  # no evidence, no consent
    done = client.post(
        f"/patients/{world['pb']}/consents",
        data={"decision": "permit", "member": "m-a", "method": "signature", "evidence": "扫描件 2026-118"},
    )
    assert done.status_code == 200 and "授权已登记" in done.text
    sign_in(client, "t-dr-a")
    assert "HbA1c" in client.get(f"/patients/{world['pb']}").text

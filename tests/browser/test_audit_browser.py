"""The audit pages in a real browser: a patient reads who opened their record (with the break-glass reason)
and downloads an inclusion proof that checks out; the security officer searches the log, verifies it,
sees the alerts and runs an incident to its report.

The demo alliance is served by uvicorn in a background thread (see test_patient_timeline.py, whose
fixtures in conftest.py are used) and driven through the system Chromium with Playwright.
"""

from __future__ import annotations

import json
import time

import pytest
from test_patient_timeline import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def story(demo_app):  # noqa: ANN001, ANN201
    """A doctor opens a patient's record under break-glass; a patient and an auditor can sign in."""
    from yilian.fhir.messages import FhirRequest
    from yilian.fhir.router import handle
    from yilian.gate.users import add_user, list_users
    from yilian.web import records

    gate = demo_app.state.gate
    doctor = next(u for u in list_users(gate.engine) if u.id == "dr.zhang")
    admin = next(u for u in list_users(gate.engine) if u.id == "admin")
    patients = records.matches(records.get(gate, admin.caller("HOPERAT"), "Patient", [("_count", "50")]))
    pid = next(p["id"] for p in patients if p.get("name"))
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "车祸昏迷，急查过敏史"}],
    }
    handle(gate, doctor.caller("TREAT"), FhirRequest("POST", f"Patient/{pid}/$break-glass", body=body))
    handle(gate, doctor.caller("ETREAT"), FhirRequest("GET", f"Patient/{pid}/$everything"))
    add_user(gate.engine, f"patient:{pid}", "患者本人", None, ["patient"], token="t-browser-patient")
    add_user(gate.engine, "sec.officer", "安全管理员", None, ["auditor"], token="t-browser-auditor")
    return pid


def token_sign_in(page, base_url: str, token: str) -> None:  # noqa: ANN001
    page.context.clear_cookies()
    page.goto(f"{base_url}/signin")
    page.click("details summary")  # "sign in with an access token"
    page.fill("#token", token)
    page.locator("form:has(#username) button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")


def test_a_patient_sees_who_opened_their_record_and_downloads_a_proof(
    page, base_url, story, tmp_path, demo_app
):  # noqa: ANN001
    from yilian.audit.log import of
    from yilian.audit.proofs import check_inclusion

    token_sign_in(page, base_url, "t-browser-patient")
    page.click("nav.nav a[href='/portal/access-log']")
    page.wait_for_url(f"{base_url}/portal/access-log")
    rows = page.locator("table.access-log tr.access-row.break-glass")
    rows.first.wait_for()
    row = rows.first.inner_text()
    assert "张医生" in row and "车祸昏迷，急查过敏史" in row and "紧急诊疗（破窗）" in row
    screenshot(page, tmp_path, "access-log.png")
    with page.expect_download() as download:
        rows.first.locator("a.proof-link").click()
    proof = json.loads(download.value.path().read_text())
    assert check_inclusion(proof, of(demo_app.state.gate).key.public) == []


def test_the_security_officer_searches_verifies_and_handles_an_incident(page, base_url, story, tmp_path):  # noqa: ANN001
    from playwright.sync_api import expect

    token_sign_in(page, base_url, "t-browser-auditor")
    page.click("nav.nav a[href='/security/audit']")
    page.fill("input[name=user_id]", "dr.zhang")
    page.check("input[name=break_glass]")
    page.click("form.audit-filters button[type=submit]")
    expect(page.locator("table.audit-events tbody tr").first).to_contain_text("车祸昏迷")
    screenshot(page, tmp_path, "audit-search.png")

    page.click("button[data-action=verify]")
    expect(page.locator("[data-verified=ok]")).to_be_visible()
    screenshot(page, tmp_path, "audit-verify.png")

    page.click(".security-tabs a[href='/security/alerts']")
    expect(page.locator("table.break-glass-accesses")).to_contain_text("车祸昏迷，急查过敏史")
    screenshot(page, tmp_path, "alerts.png")

    page.click(".security-tabs a[href='/security/incidents']")
    page.fill("input[name=title]", "张医生账号疑似外借")
    page.fill("input[name=start]", time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() - 3600)))
    page.fill("input[name=end]", time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() + 3600)))
    page.fill("input[name=users]", "dr.zhang")
    page.click("form.incident-form button[type=submit]")
    expect(page.locator(".incident-report h1")).to_have_text("张医生账号疑似外借")
    assert int(page.locator(".affected-count").inner_text()) >= 1
    page.click("button[data-action=notify]")
    expect(page.locator(".incident-status")).to_have_text("已通知患者")
    assert page.locator(".notified-count").inner_text() == page.locator(".affected-count").inner_text()
    screenshot(page, tmp_path, "incident.png")

"""A clinician in a real browser: sign in from the demo list, find a patient as they type, read the
integrated timeline, switch to English.

Runs the real app under uvicorn (background thread, free 127.0.0.1 port) over a fresh SQLite database
seeded with the demo alliance, and drives the system Chromium through Playwright. Screenshots go to the
test's tmp directory, and also to $YILIAN_SCREENSHOT_DIR when it is set, for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser


def shared_surname(demo_app) -> str:  # noqa: ANN001
    """The family name of a demo person whose records at two or more members share a resident ID."""
    from yilian.gate.users import list_users
    from yilian.web import display, records

    clinician = next(u for u in list_users(demo_app.state.gate.engine) if u.id == "dr.zhang")
    patients = records.matches(
        records.get(demo_app.state.gate, clinician.caller(), "Patient", [("_count", "1000")])
    )
    for group in records.group_registrations(patients):
        members = {display.source_member(p) for p in group}
        family = group[0]["name"][0].get("family", "")
        if len(members) >= 2 and family and not family.isascii():
            return family
    pytest.fail("the demo alliance has no person registered at two members")


def screenshot(page, tmp_path: Path, name: str) -> Path:  # noqa: ANN001
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=False)
    if target := os.environ.get("YILIAN_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def test_clinician_finds_a_patient_and_reads_the_integrated_timeline(page, base_url, demo_app, tmp_path):
    from playwright.sync_api import expect

    surname = shared_surname(demo_app)
    page.goto(f"{base_url}/")
    assert page.url.startswith(f"{base_url}/signin")  # anonymous: sent to sign in
    page.click('button[data-user="dr.zhang"]')  # demo mode: one click signs in
    page.wait_for_url(f"{base_url}/")
    assert page.locator("h1").first.inner_text() == "滨江市城市医疗集团"
    assert page.locator("table.members tbody tr").count() == 8

    page.locator("input[name=q]").press_sequentially(surname, delay=40)
    rows = page.locator("#results tr.patient-row")
    rows.first.wait_for()  # htmx swapped the results in, without a page load
    page.wait_for_load_state("networkidle")  # a two-character surname searches twice
    assert page.url == f"{base_url}/"
    shared = rows.filter(has=page.locator(".member-badge:nth-child(2)")).first
    name = shared.locator(".patient-link").inner_text()
    assert name.startswith(surname)
    screenshot(page, tmp_path, "search.png")

    shared.locator(".patient-link").click()
    page.locator("#timeline .entry").first.wait_for()
    assert page.locator(".patient-name").inner_text() == name
    assert "*" * 8 in page.locator(".patient-facts").inner_text()  # resident ID masked
    sources = set(page.locator("#timeline .entry").evaluate_all("els => els.map(e => e.dataset.member)"))
    assert len(sources - {""}) >= 2, sources
    labels = set(page.locator("#timeline .member-label").all_inner_texts())
    legend = page.locator(".legend .member-badge").all_inner_texts()
    assert len(legend) >= 2 and set(legend) == labels
    assert any(label.endswith(("医院", "中心")) for label in labels)
    path = screenshot(page, tmp_path, "timeline.png")
    assert path.stat().st_size > 10_000

    kind = page.locator("#timeline .entry").last.get_attribute("data-kind")
    page.locator("select[name=kind]").select_option(kind)  # the htmx filter swaps only the timeline
    expect(page).to_have_url(re.compile(rf"kind={kind}"))
    page.wait_for_function(f"!document.querySelector('#timeline .entry:not([data-kind={kind}])')")
    assert page.locator(f"#timeline .entry[data-kind={kind}]").count() >= 1
    screenshot(page, tmp_path, "filtered.png")

    page.click("a.lang")
    expect(page.locator(".timeline-card h2")).to_have_text("Timeline")
    expect(page.locator(".nav a").first).to_have_text("Home")
    screenshot(page, tmp_path, "timeline-en.png")

"""Governance in a real browser: a patient gives and withdraws consent in the portal; a clinician meets a
record they may not see, breaks the glass with a reason and reads it under the emergency banner."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.tokens import set_password
from yilian.gate.users import add_user

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stranger(demo_app) -> str:  # noqa: ANN001
    """A patient registered at a secondary hospital who never consented to sharing, with a lab result."""
    gate = demo_app.state.gate
    his = Caller("his", "HIS", "m-secondary-1", frozenset({"member-system"}), "HOPERAT")
    pid = handle(
        gate,
        his,
        FhirRequest(
            "POST",
            "Patient",
            body={"resourceType": "Patient", "name": [{"text": "冯立", "family": "冯", "given": ["立"]}]},
        ),
    ).resource()["id"]
    handle(
        gate,
        his,
        FhirRequest(
            "POST",
            "Observation",
            body={
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "血钾 potassium"},
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": "2026-11-20",
                "valueQuantity": {"value": 6.2, "unit": "mmol/L"},
            },
        ),
    )
    add_user(gate.engine, f"patient:{pid}", "冯立", None, ["patient"])
    set_password(gate.engine, f"patient:{pid}", "feng-li-2026")
    return pid


def shot(page, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("YILIAN_SCREENSHOT_DIR"):
        shutil.copy(path, Path(os.environ["YILIAN_SCREENSHOT_DIR"]) / path.name)


def test_clinician_breaks_the_glass(page, base_url, sign_in, stranger, tmp_path):  # noqa: ANN001
    sign_in("dr.zhang", "demo-clinician")
    page.goto(f"{base_url}/patients/{stranger}")
    assert page.locator("text=紧急调阅（破窗）").is_visible()
    page.fill("#bg-reason", "高钾血症抢救，需查近期化验")
    page.locator("button.danger").click()
    page.wait_for_selector("text=紧急调阅中")
    assert page.locator("text=血钾 potassium").first.is_visible()
    shot(page, tmp_path, "break-glass")


def test_patient_gives_and_withdraws_consent(page, base_url, sign_in, stranger, tmp_path):  # noqa: ANN001
    sign_in(f"patient:{stranger}", "feng-li-2026")
    page.goto(f"{base_url}/portal")
    assert page.locator("text=撤回后").is_visible()  # the consequences, said plainly
    page.locator("button[data-action=grant-all]").click()
    page.wait_for_selector("table >> text=医联体所有成员单位")
    shot(page, tmp_path, "portal")
    page.locator("table button:has-text('撤回')").click()
    page.wait_for_selector("table >> text=已撤回")

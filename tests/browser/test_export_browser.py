"""Bulk export in a real browser: a patient asks for a copy of their record, watches it run (the table
polls by itself) and downloads the file of their lab results."""

from __future__ import annotations

import orjson
import pytest

from yilian.export.runner import Exporter
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller
from yilian.gate.tokens import set_password
from yilian.gate.users import add_user

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def resident(demo_app) -> str:  # noqa: ANN001
    gate = demo_app.state.gate
    his = Caller("his", "HIS", "m-secondary-1", frozenset({"member-system"}), "HOPERAT")
    body = {"resourceType": "Patient", "name": [{"text": "邱雪", "family": "邱", "given": ["雪"]}]}
    pid = handle(gate, his, FhirRequest("POST", "Patient", body=body)).resource()["id"]
    lab = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "尿酸 uric acid"},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": {"value": 452, "unit": "umol/L"},
    }
    handle(gate, his, FhirRequest("POST", "Observation", body=lab))
    add_user(gate.engine, f"patient:{pid}", "邱雪", None, ["patient"])
    set_password(gate.engine, f"patient:{pid}", "qiu-xue-2026")
    return pid


@pytest.fixture
def exporter(demo_app):  # noqa: ANN001, ANN201 - the server's exporter thread (the test server runs no lifespan)
    running = Exporter(demo_app.state.gate, poll_seconds=0.1)
    running.start()
    yield running
    running.stop()


def test_a_patient_downloads_a_copy_of_their_record(page, base_url, sign_in, resident, exporter, tmp_path):  # noqa: ANN001
    sign_in(f"patient:{resident}", "qiu-xue-2026")
    page.goto(f"{base_url}/exports")
    page.click("[data-action=export-mine]")
    link = page.locator("a[href$='/Observation.ndjson']")
    link.wait_for(timeout=20_000)  # appears once the job is done, without reloading the page
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "Observation.ndjson"
    download.value.save_as(saved)
    lab = orjson.loads(saved.read_bytes().splitlines()[0])
    assert lab["code"]["text"] == "尿酸 uric acid" and lab["subject"]["reference"] == f"Patient/{resident}"

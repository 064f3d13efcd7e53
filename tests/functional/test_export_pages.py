"""The exports page: a patient downloads a copy of their own record; a clinician's export holds only what
consent allows; nobody downloads another user's files."""

from __future__ import annotations

import time

import orjson
import pytest

from yilian.gate.users import add_user
from yilian.testing.plugin import caller, sign_in

HIS_B = caller("member-system", "m-b")


@pytest.fixture
def world(fhir, engine) -> dict:  # noqa: ANN001
    pb = fhir.as_(HIS_B).post("Patient", {"resourceType": "Patient", "name": [{"text": "吴芳"}]})
    pb = pb.resource()["id"]
    fhir.as_(HIS_B).post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "糖化血红蛋白 HbA1c"},
            "subject": {"reference": f"Patient/{pb}"},
        },
    )
    add_user(engine, "dr.a", "甲医生", "m-a", ["clinician"], token="t-dr-a")
    add_user(engine, f"patient:{pb}", "吴芳", None, ["patient"], token="t-patient")
    return {"pb": pb}


def finished_row(client, seconds: float = 20.0) -> str:  # noqa: ANN001
    """The jobs fragment once the newest job stopped running (the server's exporter runs it)."""
    deadline = time.monotonic() + seconds
    while True:
        html = client.get("/exports/jobs").text
        if 'data-status="accepted"' not in html and 'data-status="running"' not in html:
            return html
        assert 'hx-trigger="every 1s"' in html  # the page keeps polling while a job runs
        assert time.monotonic() < deadline, html
        time.sleep(0.05)


def test_a_patient_downloads_their_own_record(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-patient")
    page = client.get("/exports")
    assert page.status_code == 200 and "下载我的健康档案" in page.text
    assert client.post("/exports", data={"level": "patient"}, follow_redirects=False).status_code == 303
    html = finished_row(client)
    assert 'data-status="completed"' in html and "hx-trigger" not in html
    link = next(part.split('"')[0] for part in html.split('href="')[1:] if "Observation.ndjson" in part)
    got = client.get(link)
    assert got.status_code == 200
    assert orjson.loads(got.content.splitlines()[0])["code"]["text"] == "糖化血红蛋白 HbA1c"
    sign_in(client, "t-dr-a")  # another user: the file does not exist for them
    assert client.get(link).status_code == 404


def test_a_clinicians_export_without_consent_holds_nothing_of_the_patient(client, world) -> None:  # noqa: ANN001
    sign_in(client, "t-dr-a")
    client.post("/exports", data={"level": "patient", "types": "Patient,Observation"})
    html = finished_row(client)
    assert 'data-status="completed"' in html and "ndjson" not in html  # no file: nothing visible
    bad = client.post("/exports", data={"level": "patient", "types": "Pateint"})
    assert bad.status_code == 400 and "Pateint" in bad.text

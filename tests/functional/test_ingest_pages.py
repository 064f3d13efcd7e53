"""The feed pages: a member's IT staff read their quality report and dead letters, fix one and replay it;
other members' messages stay out of sight."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ingest"))
from v2_fixtures import CODES, oru  # noqa: E402

from yilian.gate.users import add_user  # noqa: E402
from yilian.ingest import store  # noqa: E402
from yilian.ingest.intake import hl7_items  # noqa: E402
from yilian.ingest.pipeline import ingest  # noqa: E402
from yilian.testing.plugin import sign_in


def test_member_it_fixes_a_dead_letter_from_the_page(client, engine, fhir):
    for org in ("m-a", "m-b"):
        fhir.put(f"Organization/{org}", {"resourceType": "Organization", "id": org, "name": org})
    gate = client.app.state.gate
    store.save_code_tables(engine, "m-a", CODES)
    (good,) = ingest(gate, hl7_items(oru("G1").encode(), member="m-a"))
    (bad,) = ingest(gate, hl7_items(oru("B1", glucose="偏高").encode(), member="m-a"))
    (other,) = ingest(gate, hl7_items(oru("O1", glucose="x").encode(), member="m-b"))
    add_user(engine, "it.a", "信息科", "m-a", ["member-it"], token="t-it-a")
    add_user(engine, "dr.a", "医生", "m-a", ["clinician"], token="t-dr-a")
    sign_in(client, "t-dr-a")
    assert client.get("/ingest").status_code == 403  # not for clinicians
    sign_in(client, "t-it-a")
    page = client.get("/ingest")
    assert page.status_code == 200
    assert 'data-member="m-a"' in page.text and 'data-member="m-b"' not in page.text
    assert f'data-id="{bad.id}"' in page.text and f'data-id="{other.id}"' not in page.text
    assert "不是数字" in page.text or "not a number" in page.text
    assert "核心数据元完整性" in page.text and "K" in page.text  # completeness, the unmapped potassium code
    assert client.get(f"/ingest/messages/{other.id}").status_code == 404  # another member's
    detail = client.get(f"/ingest/messages/{bad.id}")
    assert detail.status_code == 200 and "偏高" in detail.text
    still_bad = client.post(f"/ingest/messages/{bad.id}/replay", data={"content": oru("B1", glucose="很高")})
    assert still_bad.status_code == 422 and "not a number" in still_bad.text
    fixed = client.post(
        f"/ingest/messages/{bad.id}/replay",
        data={"content": oru("B1", glucose="7.2")},
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    assert "replayed" in client.get(fixed.headers["location"]).text
    assert store.get_message(engine, bad.id).status == "processed"
    assert good.status == "processed"

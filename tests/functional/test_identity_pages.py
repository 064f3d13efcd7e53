"""The review page: pairs side by side with evidence per field; the buttons decide through the router."""

from __future__ import annotations

from sqlalchemy import select

from yilian.gate.users import add_user
from yilian.identity import links
from yilian.identity.tables import mpi_links
from yilian.identity.testing import patient
from yilian.testing.plugin import caller, sign_in


def test_a_steward_reviews_a_pair_side_by_side(client, engine, fhir):
    home = {"birth": "2015-06-01", "phone": "13811112222", "address": "西兴路120号江景苑2幢"}
    fhir.as_(caller("member-system", "m-a")).post("Patient", patient("王建国", mrn="A1", **home))
    fhir.as_(caller("member-system", "m-b")).post("Patient", patient("王建军", mrn="B1", **home))
    sign_in(client, add_user(engine, "steward", "主索引管理员", None, ["mpi-steward"], token="t-steward"))
    page = client.get("/identity/reviews")
    assert page.status_code == 200
    assert "王建国" in page.text and "王建军" in page.text and "family, one given character" in page.text
    assert 'href="/identity/reviews"' in page.text  # in the navigation for stewards
    with engine.connect() as conn:
        review_id = conn.execute(select(mpi_links.c.id)).scalar()
    done = client.post(
        f"/identity/reviews/{review_id}", data={"decision": "no-match"}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and "不是同一人" in done.text
    with engine.connect() as conn:
        assert conn.execute(select(mpi_links.c.status)).scalar() == links.NO_MATCH
    assert "没有待审核" in client.get("/identity/reviews").text


def test_other_users_may_not_review(client, engine):
    sign_in(client, add_user(engine, "dr.li", "李医生", "m-a", ["clinician"], token="t-dr"))
    assert client.get("/identity/reviews").status_code == 403
    assert 'href="/identity/reviews"' not in client.get("/").text

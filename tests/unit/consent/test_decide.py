"""The consent decision model: properties of the pure function, and agreement with its SQL twin."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from yilian.consent.decide import DENY, NO_CONSENT, PERMIT, Decision, Request, combine, decide
from yilian.consent.filters import consented, consented_for_patient, decide_for_patient
from yilian.consent.model import ANY, Grant, grants_of
from yilian.consent.tables import consent_grants
from yilian.store.tables import compartment, resources
from yilian.testing.plugin import consent_resource

NOW = 1_780_000_000.0

grant_st = st.builds(
    Grant,
    consent_id=st.sampled_from(["c1", "c2", "c3"]),
    patient_id=st.just("p1"),
    depth=st.integers(0, 1),
    permit=st.booleans(),
    purpose=st.sampled_from(["TREAT", "HRESCH", ANY]),
    recipient=st.sampled_from(["m-a", "m-b", ANY]),
    data_class=st.sampled_from([ANY, "Observation", "Condition", "HIV"]),
    start=st.sampled_from([NOW - 1e6, NOW + 10]),
    end=st.sampled_from([NOW - 10, NOW + 1e6]),
    recorded=st.sampled_from([1.0, 2.0, 3.0]),  # few values: ties happen
)
request_st = st.builds(
    Request,
    purpose=st.sampled_from(["TREAT", "HRESCH"]),
    recipient=st.sampled_from(["m-a", "m-b"]),
    resource_type=st.sampled_from(["Observation", "Condition"]),
    level=st.sampled_from([4, 5]),
    sensitivity=st.sampled_from([None, "HIV"]),
    at=st.just(NOW),
)


def grant(**kw) -> Grant:
    base = dict(
        consent_id="c",
        patient_id="p1",
        depth=0,
        permit=True,
        purpose="TREAT",
        recipient=ANY,
        data_class=ANY,
        start=0.0,
        end=NOW * 2,
        recorded=1.0,
    )
    return Grant(**{**base, **kw})


TREAT_A = Request("TREAT", "m-a", "Observation", 4, None, NOW)


def test_silence_is_no_consent_and_denies():
    d = decide([], TREAT_A)
    assert d.outcome == NO_CONSENT and not d.permitted


def test_newest_wins_and_ties_deny():
    older_permit, newer_deny = grant(recorded=1.0), grant(permit=False, recorded=2.0, consent_id="w")
    assert decide([older_permit, newer_deny], TREAT_A) == Decision(DENY, "w")
    assert decide([older_permit, grant(recorded=3.0, consent_id="n")], TREAT_A) == Decision(PERMIT, "n")
    tie = [grant(recorded=5.0, consent_id="x"), grant(permit=False, recorded=5.0, consent_id="y")]
    assert decide(tie, TREAT_A).outcome == DENY


def test_a_changed_purpose_recipient_or_data_type_needs_new_consent():
    only = [grant(purpose="TREAT", recipient="m-a", data_class="Observation")]
    assert decide(only, TREAT_A).permitted
    assert not decide(only, Request("HRESCH", "m-a", "Observation", 4, None, NOW)).permitted
    assert not decide(only, Request("TREAT", "m-b", "Observation", 4, None, NOW)).permitted
    assert not decide(only, Request("TREAT", "m-a", "Condition", 4, None, NOW)).permitted


def test_level_five_needs_a_consent_naming_the_class():
    hiv = Request("TREAT", "m-a", "Condition", 5, "HIV", NOW)
    assert not decide([grant()], hiv).permitted  # "everything" does not cover HIV data
    assert decide([grant(data_class="HIV")], hiv).permitted
    assert not decide(
        [grant(data_class="PSY")], Request("TREAT", "m-a", "Condition", 5, "PSY2", NOW)
    ).permitted


def test_an_exception_inside_a_consent_beats_its_base():
    base, exception = grant(depth=0), grant(depth=1, permit=False, recipient="m-b")
    assert decide([base, exception], TREAT_A).permitted
    assert not decide([base, exception], Request("TREAT", "m-b", "Observation", 4, None, NOW)).permitted


def test_withdrawal_removes_all_future_grants():
    c = consent_resource("p1")
    c["id"] = "c9"
    assert grants_of(c, NOW)
    c["status"] = "inactive"
    assert grants_of(c, NOW) == []


def test_deny_overrides_across_layers():
    assert combine(Decision(PERMIT), Decision(DENY, "x")).outcome == DENY
    assert combine(Decision(PERMIT), Decision(PERMIT, "c")).permitted
    assert not combine(Decision(NO_CONSENT), Decision(PERMIT)).permitted


@given(st.lists(grant_st, max_size=6), request_st)
def test_newest_applicable_grant_decides(grants, request):
    d = decide(grants, request)
    applicable = [g for g in grants if _applies(g, request)]
    if not applicable:
        assert d.outcome == NO_CONSENT
        return
    newest = max(g.recorded for g in applicable)
    top = [g for g in applicable if g.recorded == newest]
    deepest = max(g.depth for g in top)
    top = [g for g in top if g.depth == deepest]
    assert d.permitted == all(g.permit for g in top)  # any deny among the newest-deepest: deny


def _applies(g: Grant, r: Request) -> bool:
    if g.purpose not in (ANY, r.purpose) or g.recipient not in (ANY, r.recipient):
        return False
    if not g.start <= r.at <= g.end:
        return False
    return g.data_class == r.sensitivity if r.level >= 5 else g.data_class in (ANY, r.resource_type)


def _one_row_store(conn, grants: list[Grant], request: Request) -> None:  # noqa: ANN001
    """Row 1 of the request's kind in patient p1's compartment, beside p1's own Patient row."""
    for table in (consent_grants, compartment, resources):
        conn.execute(delete(table))
    row = dict(version=1, last_updated=0.0, deleted=False, member="m-x", content=b"{}", category="HS")
    kind = dict(type=request.resource_type, level=request.level, sensitivity=request.sensitivity)
    conn.execute(resources.insert().values(rid=1, id="r1", **kind, **row))
    # A second row of another kind in the same compartment: the SQL must judge each row by its own
    # level, type and sensitivity (a subquery that failed to correlate would mix them up).
    conn.execute(resources.insert().values(rid=2, type="Patient", id="p1", level=4, sensitivity=None, **row))
    conn.execute(compartment.insert(), [{"patient_id": "p1", "rid": 1}, {"patient_id": "p1", "rid": 2}])
    if grants:
        conn.execute(consent_grants.insert(), [g.row() for g in grants])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants=st.lists(grant_st, max_size=6), request=request_st)
def test_sql_twin_agrees_with_the_pure_decision(engine, grants, request):
    with engine.begin() as conn:
        _one_row_store(conn, grants, request)
        allowed = conn.execute(
            select(resources.c.rid).where(
                resources.c.rid == 1, consented(request.purpose, request.recipient, request.at)
            )
        ).all()
    assert bool(allowed) == decide(grants, request).permitted


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants=st.lists(grant_st, max_size=6), request=request_st)
def test_one_patient_filter_decided_up_front_agrees_with_the_pure_decision(engine, grants, request):
    """The cached one-patient filter ($everything): decisions made in Python, the patient bound late."""
    decisions = decide_for_patient(grants, request.purpose, request.recipient, request.at)
    condition = consented_for_patient(decisions, int(request.at // 60))
    with engine.begin() as conn:
        _one_row_store(conn, grants, request)
        stmt = select(resources.c.rid).where(resources.c.rid == 1, condition)
        allowed = conn.execute(stmt, {"patient_id": "p1"}).all()
        other_patient = conn.execute(stmt, {"patient_id": "p2"}).all()
    assert bool(allowed) == decide(grants, request).permitted
    assert other_patient == []  # bound to another patient, p1's row is outside the filter

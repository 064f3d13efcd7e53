"""Governance on every read path: for each role and purpose, what is and is not visible, before and after
consent, after withdrawal, under break-glass and after it expires. A caller without the right gets
nothing: no rows, no count, no include, no history, no $everything."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from yilian.fhir.outcomes import FhirError
from yilian.gate.tables import break_glass
from yilian.testing.plugin import caller, consent_resource

ICD10 = "http://hl7.org/fhir/sid/icd-10"
HIS_A, HIS_B = caller("member-system", "m-a"), caller("member-system", "m-b")
DOC_A = caller("clinician", "m-a", user_id="dr.a")
DOC_B = caller("clinician", "m-b", user_id="dr.b")


@pytest.fixture
def record(fhir):
    """A patient registered at member B with an ordinary lab, an HIV diagnosis (level 5) and an encounter
    whose reason is a severe mental disorder (a level-5 element inside a level-4 resource)."""
    b = fhir.as_(HIS_B)
    pid = b.post(
        "Patient", {"resourceType": "Patient", "name": [{"family": "周", "given": ["敏"]}]}
    ).resource()["id"]
    subject = {"reference": f"Patient/{pid}"}
    b.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "subject": subject,
            "code": {"coding": [{"system": "http://loinc.org", "code": "14771-0"}]},
            "valueQuantity": {"value": 6.1, "unit": "mmol/L"},
        },
    )
    b.post(
        "Condition",
        {
            "resourceType": "Condition",
            "subject": subject,
            "code": {"coding": [{"system": ICD10, "code": "B20.1"}], "text": "HIV病"},
        },
    )
    b.post(
        "Encounter",
        {
            "resourceType": "Encounter",
            "status": "finished",
            "subject": subject,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "reasonCode": [{"coding": [{"system": ICD10, "code": "F20.0"}]}],
        },
    )
    return pid


def visible(fhir, who, pid: str) -> dict[str, int]:
    """What `who` can find about the patient, per type (via counts, which must not leak either)."""
    me = fhir.as_(who)
    out = {}
    for rtype, param in (
        ("Patient", "_id"),
        ("Observation", "subject"),
        ("Condition", "subject"),
        ("Encounter", "subject"),
    ):
        value = pid if rtype == "Patient" else f"Patient/{pid}"
        out[rtype] = me.get(f"{rtype}?{param}={value}&_summary=count").resource()["total"]
    return out


NOTHING = {"Patient": 0, "Observation": 0, "Condition": 0, "Encounter": 0}
LEVEL4 = {"Patient": 1, "Observation": 1, "Condition": 0, "Encounter": 1}
ALL = {"Patient": 1, "Observation": 1, "Condition": 1, "Encounter": 1}


@pytest.mark.parametrize(
    "who, expected",
    [
        (DOC_B, ALL),  # the attending team at the member that holds the record
        (caller("nurse", "m-b"), ALL),
        (caller("family-doctor", "m-b"), LEVEL4),  # own member, but level 5 is for the attending team only
        (caller("pharmacist", "m-b"), LEVEL4),
        (HIS_B, ALL),  # the member's own system
        (DOC_A, NOTHING),  # another member: no consent yet
        (caller("nurse", "m-a"), NOTHING),
        (HIS_A, NOTHING),
        (caller("researcher", "m-a"), NOTHING),  # researchers get de-identified extracts, not records
        (caller("public-health", "m-cdc"), NOTHING),  # public-health data only (none here)
        (caller("auditor", None), NOTHING),
        (caller("admin", None), ALL),
    ],
)
def test_without_consent(fhir, record, who, expected):
    assert visible(fhir, who, record) == expected


def test_the_patient_sees_their_whole_record(fhir, record):
    me = caller("patient", None, patient_id=record)
    assert visible(fhir, me, record) == ALL
    other = caller("patient", None, patient_id="someone-else")
    assert visible(fhir, other, record) == NOTHING


def test_consent_opens_level_four_to_the_named_purpose_and_members_only(fhir, record):
    fhir.as_(HIS_B).post("Consent", consent_resource(record, recipients=("m-a",)))
    assert visible(fhir, DOC_A, record) == LEVEL4  # HIV stays hidden: the consent does not name it
    assert visible(fhir, caller("clinician", "m-c"), record) == NOTHING  # a recipient not named
    assert visible(fhir, caller("researcher", "m-a"), record) == NOTHING  # a purpose not named
    encounter = fhir.as_(DOC_A).get(f"Encounter?subject=Patient/{record}").resource()["entry"][0]["resource"]
    assert "reasonCode" not in encounter  # the severe-mental-disorder reason is redacted
    assert any(s.get("code") == "REDACTED" for s in encounter["meta"]["security"])
    own = fhir.as_(DOC_B).get(f"Encounter?subject=Patient/{record}").resource()["entry"][0]["resource"]
    assert own["reasonCode"][0]["coding"][0]["code"] == "F20.0"  # the attending team sees it
    # Searching by the redacted element must not reveal it either.
    assert fhir.as_(DOC_A).get("Encounter?reason-code=F20.0&_summary=count").resource()["total"] == 0
    assert fhir.as_(DOC_B).get("Encounter?reason-code=F20.0&_summary=count").resource()["total"] == 1


def test_level_five_needs_a_consent_that_names_the_class(fhir, record):
    fhir.as_(HIS_B).post("Consent", consent_resource(record, classes=("HIV",), when="2026-02-01T00:00:00Z"))
    assert visible(fhir, DOC_A, record)["Condition"] == 1
    assert visible(fhir, DOC_A, record)["Observation"] == 0  # that consent covers only the HIV class


def test_withdrawal_takes_effect_on_the_next_request(fhir, record):
    consent = fhir.as_(HIS_B).post("Consent", consent_resource(record)).resource()
    assert visible(fhir, DOC_A, record) == LEVEL4
    consent["status"] = "inactive"
    fhir.as_(HIS_B).put(f"Consent/{consent['id']}", consent)
    assert visible(fhir, DOC_A, record) == NOTHING


def test_a_newer_refusal_wins_over_an_older_permission(fhir, record):
    fhir.as_(HIS_B).post("Consent", consent_resource(record, when="2026-01-01T00:00:00Z"))
    fhir.as_(HIS_B).post(
        "Consent", consent_resource(record, permit=False, recipients=("m-a",), when="2026-02-01T00:00:00Z")
    )
    assert visible(fhir, DOC_A, record) == NOTHING
    assert visible(fhir, caller("clinician", "m-c"), record) == LEVEL4


def test_every_read_path_is_closed_without_consent(fhir, record):
    doc = fhir.as_(DOC_A)
    for url in (
        f"Patient/{record}",
        f"Patient/{record}/$everything",
        f"Patient/{record}/_history",
        f"Patient/{record}/_history/1",
    ):
        with pytest.raises(FhirError) as err:
            doc.get(url)
        assert err.value.status == 404
    assert doc.get("Observation?code=14771-0&_include=Observation:subject").resource()["entry"] == []
    assert doc.get("Patient/_history").resource()["entry"] == []
    assert doc.get("Observation?subject:Patient.family=周&_summary=count").resource()["total"] == 0


def test_consent_must_record_an_act_and_its_evidence(fhir, record):
    silent = consent_resource(record)
    del silent["extension"], silent["sourceAttachment"]
    with pytest.raises(FhirError) as err:
        fhir.as_(HIS_B).post("Consent", silent)
    assert err.value.status == 422
    assert "silence is never consent" in str(err.value) and "evidence" in str(err.value)


def test_a_patient_gives_consent_only_for_themselves(fhir, record):
    me = fhir.as_(caller("patient", None, patient_id=record))
    assert me.post("Consent", consent_resource(record, method="explicit-click")).status == 201
    with pytest.raises(FhirError) as err:
        fhir.as_(caller("patient", None, patient_id="other")).post("Consent", consent_resource(record))
    assert err.value.status == 403


def test_purpose_must_fit_the_role(fhir, record):
    with pytest.raises(FhirError) as err:
        fhir.as_(caller("clinician", "m-a", purpose="HRESCH")).get("Patient")
    assert err.value.status == 403 and "HRESCH" in str(err.value)


def test_break_glass_opens_level_four_flags_and_expires(fhir, record, engine):
    emergency = caller("clinician", "m-a", purpose="ETREAT", user_id="dr.a")
    assert visible(fhir, emergency, record) == NOTHING  # no break-glass yet
    with pytest.raises(FhirError) as err:
        fhir.as_(DOC_A).post(
            f"Patient/{record}/$break-glass", {"resourceType": "Parameters", "parameter": []}
        )
    assert err.value.status == 400  # a reason is required
    opened = (
        fhir.as_(DOC_A)
        .post(
            f"Patient/{record}/$break-glass",
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "reason", "valueString": "昏迷送急诊，需查既往史"}],
            },
        )
        .resource()
    )
    assert opened["parameter"][3]["valueCode"] == "ETREAT"
    assert visible(fhir, emergency, record) == LEVEL4  # HIV stays hidden even in an emergency
    assert visible(fhir, DOC_A, record) == NOTHING  # only under purpose ETREAT
    notices = fhir.as_(caller("patient", None, patient_id=record)).get("Communication").resource()
    assert "昏迷送急诊" in notices["entry"][0]["resource"]["payload"][0]["contentString"]
    with engine.begin() as conn:  # the access runs out
        conn.execute(update(break_glass).values(expires=time.time() - 1))
    assert visible(fhir, emergency, record) == NOTHING


def test_only_care_roles_break_the_glass(fhir, record):
    with pytest.raises(FhirError) as err:
        fhir.as_(caller("researcher", "m-a")).post(f"Patient/{record}/$break-glass?reason=curious", {})
    assert err.value.status == 403


def test_labels_are_written_into_meta_security(fhir, record):
    cond = fhir.as_(DOC_B).get(f"Condition?subject=Patient/{record}").resource()["entry"][0]["resource"]
    codes = {(s["system"].rsplit("/", 1)[-1], s["code"]) for s in cond["meta"]["security"]}
    assert {
        ("gbt39725-level", "L5"),
        ("gbt39725-category", "HS"),
        ("v3-ActCode", "HIV"),
        ("v3-Confidentiality", "V"),
    } <= codes


@pytest.mark.parametrize(
    "consents",
    [
        [],
        [dict()],
        [dict(recipients=("m-a",), classes=("Observation",))],
        [dict(classes=("HIV",))],
        [dict(), dict(permit=False, classes=("Encounter",), when="2026-02-01T00:00:00Z")],
        [dict(), dict(permit=False, recipients=("m-a",), when="2026-02-01T00:00:00Z")],
        [dict(classes=("Patient", "Condition")), dict(classes=("HIV",), when="2026-03-01T00:00:00Z")],
    ],
)
def test_everything_decided_up_front_matches_the_general_filter(fhir, record, consents):
    """$everything decides one patient's consent in Python; it must show exactly what searches (the
    general SQL filter) show."""
    for kw in consents:
        fhir.as_(HIS_B).post("Consent", consent_resource(record, **kw))
    doc = fhir.as_(DOC_A)
    by_search = {
        (rtype, e["resource"]["id"])
        for rtype, param in (("Observation", "subject"), ("Condition", "subject"), ("Encounter", "subject"))
        for e in doc.get(f"{rtype}?{param}=Patient/{record}").resource()["entry"]
    }
    by_search |= {
        ("Patient", e["resource"]["id"]) for e in doc.get(f"Patient?_id={record}").resource()["entry"]
    }
    try:
        entries = doc.get(f"Patient/{record}/$everything").resource()["entry"]
    except FhirError as err:
        assert err.status == 404 and not by_search
        return
    clinical = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in entries
        if e["resource"]["resourceType"] in ("Patient", "Observation", "Condition", "Encounter")
    }
    assert clinical == by_search

"""Every request through the router leaves an IHE BALP AuditEvent: who, which member, which patients,
what, why, the outcome, the consents and the break-glass reason. Writes are recorded in their own
transaction; refusals are recorded after the rollback."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import select

from yilian.audit import access_log
from yilian.audit.events import BREAK_GLASS_DETAIL
from yilian.audit.log import of
from yilian.audit.tables import audit_entry, audit_event, audit_patient
from yilian.fhir.outcomes import FhirError
from yilian.testing.plugin import caller

HIS_B = caller("member-system", "m-b", user_id="his-b")
DOC_A = caller("clinician", "m-a", user_id="dr.a", name="王医生")


@pytest.fixture
def pid(fhir) -> str:
    b = fhir.as_(HIS_B)
    pid = b.post(
        "Patient", {"resourceType": "Patient", "name": [{"family": "周", "given": ["敏"]}]}
    ).resource()["id"]
    b.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "血糖"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    )
    return pid


def events(gate) -> list[tuple[dict, object]]:  # noqa: ANN001
    of(gate).drain()  # reads wait in the spool until the folder copies them
    with gate.engine.connect() as conn:
        joined = audit_event.join(audit_entry, audit_entry.c.seq == audit_event.c.seq)
        rows = conn.execute(
            select(audit_event, audit_entry.c.entry).select_from(joined).order_by(audit_event.c.seq)
        ).all()
    return [(orjson.loads(r.entry), r) for r in rows]


def last(gate) -> tuple[dict, object]:  # noqa: ANN001
    return events(gate)[-1]


def test_a_read_is_a_balp_patient_read(fhir, gate, pid) -> None:  # noqa: ANN001
    fhir.as_(HIS_B).get(f"Patient/{pid}")
    event, row = last(gate)
    assert event["resourceType"] == "AuditEvent"
    assert event["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientRead")
    assert event["subtype"][0]["code"] == "read" and event["action"] == "R" and event["outcome"] == "0"
    user, org = event["agent"]
    assert user["who"]["identifier"]["value"] == "his-b" and user["requestor"] is True
    assert user["type"]["coding"][0]["code"] == "IRCP"
    assert user["purposeOfUse"][0]["coding"][0]["code"] == HIS_B.purpose
    assert org["who"]["reference"] == "Organization/m-b"
    assert event["entity"][0]["what"]["reference"] == f"Patient/{pid}"
    assert (row.action, row.outcome, row.member, row.user_id) == ("read", 200, "m-b", "his-b")


def test_a_search_names_the_patients_from_their_compartments_and_keeps_the_query(fhir, gate, pid) -> None:  # noqa: ANN001
    fhir.as_(HIS_B).get(f"Observation?subject=Patient/{pid}&code:text=血糖")
    event, row = last(gate)
    assert event["meta"]["profile"][0].endswith("PatientQuery")
    query = next(e for e in event["entity"] if e["role"]["code"] == "24")
    assert base64.b64decode(query["query"]).decode().startswith("Observation?subject=Patient")
    with gate.engine.connect() as conn:
        assert access_log.patient_log(conn, [pid])[0].seq == row.seq


def test_searched_identifiers_stay_out_of_the_log(fhir, gate, pid) -> None:  # noqa: ANN001
    fhir.as_(HIS_B).get("Patient?identifier=330106195802011234")
    query = next(e for e in last(gate)[0]["entity"] if e["role"]["code"] == "24")
    assert "330106195802011234" not in base64.b64decode(query["query"]).decode()


def test_everything_names_its_patient(fhir, gate, pid) -> None:  # noqa: ANN001
    fhir.get(f"Patient/{pid}/$everything")
    event, row = last(gate)
    assert row.action == "everything"
    assert [e["what"]["reference"] for e in event["entity"] if "what" in e] == [f"Patient/{pid}"]


def test_a_write_lists_what_it_wrote(fhir, gate, pid) -> None:  # noqa: ANN001
    created = (
        fhir.as_(HIS_B)
        .post(
            "Condition",
            {
                "resourceType": "Condition",
                "code": {"text": "高血压"},
                "subject": {"reference": f"Patient/{pid}"},
            },
        )
        .resource()
    )
    event, row = last(gate)
    assert (row.action, row.outcome, event["action"]) == ("create", 201, "C")
    assert event["agent"][0]["type"]["coding"][0]["code"] == "AGNT"
    refs = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    assert f"Condition/{created['id']}/_history/1" in refs and f"Patient/{pid}" in refs


def test_a_refused_request_is_recorded_after_its_rollback(fhir, gate, pid) -> None:  # noqa: ANN001
    stranger = caller("patient", None, patient_id="someone-else", user_id="patient:someone-else")
    with pytest.raises(FhirError):
        fhir.as_(stranger).get(f"Patient/{pid}")
    event, row = last(gate)
    assert row.outcome == 404 and event["outcome"] == "4" and "outcomeDesc" in event
    assert event["agent"][0]["type"]["coding"][0]["code"] == "PAT"
    of(gate).drain()
    with gate.engine.connect() as conn:  # the patient sees that someone tried
        assert access_log.patient_log(conn, [pid])[0].denied


def test_a_failed_write_leaves_its_refusal_but_nothing_of_the_write(fhir, gate, pid) -> None:  # noqa: ANN001
    before = len(events(gate))
    with pytest.raises(FhirError):
        fhir.as_(HIS_B).post("Observation", {"resourceType": "Observation", "status": "nonsense"})
    after = events(gate)
    assert len(after) == before + 1 and after[-1][1].outcome == 400 and after[-1][1].action == "create"


def test_consent_ids_and_break_glass_reasons_are_recorded(gate, pid) -> None:  # noqa: ANN001
    from yilian.fhir.messages import FhirRequest
    from yilian.gate.access import Access

    access = Access(
        DOC_A.with_purpose("ETREAT"),
        FhirRequest("GET", f"Patient/{pid}"),
        "read",
        notes={"consent": ["c-1", {"id": "c-2"}, "Consent/c-3"], "break_glass": {pid: "昏迷送急诊"}},
    )
    of(gate).observe(access)
    event, row = last(gate)
    assert event["agent"][0]["policy"] == ["Consent/c-1", "Consent/c-2", "Consent/c-3"]
    patient = event["entity"][0]
    assert patient["detail"] == [{"type": BREAK_GLASS_DETAIL, "valueString": "昏迷送急诊"}]
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    assert row.break_glass == "昏迷送急诊"


def test_reads_by_consent_name_the_consents_that_allowed_them(fhir, gate, pid) -> None:  # noqa: ANN001
    from yilian.testing.plugin import consent_resource

    fhir.as_(DOC_A).get(f"Observation?subject=Patient/{pid}")  # no consent yet: nothing shown, none named
    assert "policy" not in last(gate)[0]["agent"][0]
    consent_id = fhir.as_(HIS_B).post("Consent", consent_resource(pid)).resource()["id"]
    for url in (f"Observation?subject=Patient/{pid}", f"Patient/{pid}", f"Patient/{pid}/$everything"):
        fhir.as_(DOC_A).get(url)
        assert last(gate)[0]["agent"][0]["policy"] == [f"Consent/{consent_id}"], url
    fhir.as_(HIS_B).get(f"Patient/{pid}")  # its own member's record: no consent involved
    assert "policy" not in last(gate)[0]["agent"][0]


def test_accesses_under_a_real_break_glass_carry_its_reason(fhir, gate, pid) -> None:  # noqa: ANN001
    fhir.as_(DOC_A).post(
        f"Patient/{pid}/$break-glass",
        {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "昏迷送急诊"}]},
    )
    assert last(gate)[1].action == "break-glass"
    fhir.as_(DOC_A.with_purpose("ETREAT")).get(f"Observation?subject=Patient/{pid}")
    event, row = last(gate)
    assert row.break_glass == "昏迷送急诊" and row.purpose == "ETREAT"
    with gate.engine.connect() as conn:
        assert [a.seq for a in access_log.search(conn, break_glass=True)] == [row.seq]


def test_bulk_groups_record_one_event_per_bundle_in_the_group_transaction(gate, pid) -> None:  # noqa: ANN001
    from yilian.fhir.messages import FhirRequest
    from yilian.fhir.router import handle_group

    def bundle(n: int) -> dict:
        return {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "status": "final",
                        "code": {"text": f"o{i}"},
                        "subject": {"reference": f"Patient/{pid}"},
                    },
                    "request": {"method": "POST", "url": "Observation"},
                }
                for i in range(n)
            ],
        }

    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": {"resourceType": "Nope"}, "request": {"method": "POST", "url": "Nope"}}],
    }
    before = len(events(gate))
    handle_group(
        gate,
        HIS_B,
        [
            FhirRequest("POST", "", body=bundle(3)),
            FhirRequest("POST", "", body=bad),
            FhirRequest("POST", "", body=bundle(2)),
        ],
    )
    rows = [r for _, r in events(gate)[before:]]
    assert [(r.action, r.outcome) for r in rows] == [
        ("transaction", 200),
        ("transaction", 400),
        ("transaction", 200),
    ]


class WritesAtOnce:
    """Builds each write's event when it is told of it, as the log did before gathering them."""

    def __init__(self) -> None:
        self.events: list = []

    def observe(self, access) -> None:  # noqa: ANN001 - an Access
        from yilian.audit.events import build
        from yilian.audit.patients import patients_of

        if access.writing and access.conn is not None:
            self.events.append(build(access, patients_of(access)))


def test_a_transactions_gathered_write_events_are_those_built_at_once(fhir, gate, pid) -> None:  # noqa: ANN001
    from yilian.fhir.messages import FhirRequest
    from yilian.fhir.router import handle_group

    b = fhir.as_(HIS_B)
    other = b.post("Patient", {"resourceType": "Patient", "name": [{"family": "吴"}]}).resource()["id"]
    obs = b.post(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "血压"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    ).resource()["id"]

    def put(subject: str, status: str) -> FhirRequest:
        body = {
            "resourceType": "Observation",
            "id": obs,
            "status": status,
            "code": {"text": "血压"},
            "subject": {"reference": f"Patient/{subject}"},
        }
        entry = {"resource": body, "request": {"method": "PUT", "url": f"Observation/{obs}"}}
        return FhirRequest(
            "POST", "", body={"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        )

    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": {"resourceType": "Nope"}, "request": {"method": "POST", "url": "Nope"}}],
    }
    at_once = WritesAtOnce()
    gate.observers.append(at_once)
    before = len(events(gate))
    # The first update's version is replaced by the second before the group commits: its event must
    # still name the patient it was about then.
    handle_group(
        gate, HIS_B, [put(pid, "amended"), FhirRequest("POST", "", body=bad), put(other, "corrected")]
    )
    gate.observers.remove(at_once)

    recorded = events(gate)[before:]
    assert len(recorded) == len(at_once.events) == 3

    def comparable(event: dict) -> dict:
        return {k: v for k, v in event.items() if k not in ("id", "recorded")}

    assert [comparable(e) for e, _ in recorded] == [comparable(orjson.loads(e.entry)) for e in at_once.events]
    with gate.engine.connect() as conn:
        named = [
            set(
                conn.execute(
                    select(audit_patient.c.patient_id).where(audit_patient.c.seq == row.seq)
                ).scalars()
            )
            for _, row in recorded
        ]
    assert named == [e.patients for e in at_once.events] == [{pid}, set(), {other}]


def test_events_fold_into_the_signed_log(fhir, gate, pid) -> None:  # noqa: ANN001
    from yilian.audit.verify import verify_log

    log = of(gate)
    fhir.get(f"Patient/{pid}")
    assert log.pending() > 0
    log.fold_all()
    assert log.pending() == 0 and log.head().size == len(events(gate))
    assert verify_log(log).ok

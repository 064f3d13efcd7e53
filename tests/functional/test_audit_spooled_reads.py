"""SQLite reads keep only their facts on the request path and are shaped into AuditEvents when the spool
is drained, their patients looked up then: the events must be exactly those recorded at once, even when
what was read changed before the drain (its subject moved, or it was deleted)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from yilian.audit.events import Event, build
from yilian.audit.log import of
from yilian.audit.patients import patients_of
from yilian.audit.tables import audit_entry, audit_event, audit_patient
from yilian.fhir.outcomes import FhirError
from yilian.gate.access import Access
from yilian.testing.plugin import caller

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL has no spool

HIS_B = caller("member-system", "m-b", user_id="his-b")
DOC_A = caller("clinician", "m-a", user_id="dr.a", name="王医生")


class AtOnce:
    """Records every read the way the audit log did before spooling: built on the request path."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def observe(self, access: Access) -> None:
        if not access.writing:
            self.events.append(build(access, patients_of(access)))


def amended(obs_id: str, patient_id: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "status": "amended",
        "code": {"text": "血糖"},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


COLUMNS = ("user_id", "member", "action", "outcome", "purpose", "break_glass")


def comparable(entry: bytes, columns: object) -> tuple:
    event = orjson.loads(entry)
    del event["id"], event["recorded"]  # a new id and the clock: all that may differ
    return event, [getattr(columns, c) for c in COLUMNS]


def test_spooled_reads_are_the_events_recorded_at_once(fhir, gate) -> None:  # noqa: ANN001
    b = fhir.as_(HIS_B)
    p1 = b.post("Patient", {"resourceType": "Patient", "name": [{"family": "周"}]}).resource()["id"]
    p2 = b.post("Patient", {"resourceType": "Patient", "name": [{"family": "吴"}]}).resource()["id"]
    obs = [
        b.post(
            "Observation",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": t},
                "subject": {"reference": f"Patient/{p1}"},
            },
        ).resource()["id"]
        for t in ("血糖", "血压")
    ]
    b.put(f"Observation/{obs[0]}", amended(obs[0], p1))
    fhir.as_(DOC_A).post(
        f"Patient/{p1}/$break-glass",
        {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "昏迷送急诊"}]},
    )
    at_once = AtOnce()
    gate.observers.append(at_once)
    with gate.engine.connect() as conn:
        before = int(conn.execute(select(func.max(audit_event.c.seq))).scalar_one())

    b.get(f"Patient/{p1}")
    b.get(f"Observation/{obs[0]}")
    b.get(f"Observation?subject=Patient/{p1}")
    b.get(f"Observation?subject=Patient/{p1}&_include=Observation:subject")
    b.get(f"Patient?_id={p1}&_revinclude=Observation:subject")
    b.get("Observation?code:text=血压&identifier=110101199003077777")
    b.get(f"Patient/{p1}/$everything")
    b.get(f"Observation/{obs[0]}/_history/1")
    b.get(f"Observation/{obs[0]}/_history")
    fhir.as_(DOC_A.with_purpose("ETREAT")).get(f"Observation?subject=Patient/{p1}")
    with pytest.raises(FhirError):
        fhir.as_(DOC_A).get(f"Observation/{obs[1]}")  # outside member A's scope: refused
    gate.observers.remove(at_once)
    # What was read changes before the drain: a subject moves to another patient, a record goes.
    b.put(f"Observation/{obs[0]}", amended(obs[0], p2))
    b.delete(f"Observation/{obs[1]}")

    assert of(gate).drain() == len(at_once.events) == 11
    with gate.engine.connect() as conn:
        rows = conn.execute(
            select(audit_event, audit_entry.c.entry)
            .join_from(audit_event, audit_entry, audit_entry.c.seq == audit_event.c.seq)
            .where(audit_event.c.seq > before, audit_event.c.action.not_in(("update", "delete")))
            .order_by(audit_event.c.seq)
        ).all()
        patients = {
            seq: set(
                conn.execute(select(audit_patient.c.patient_id).where(audit_patient.c.seq == seq)).scalars()
            )
            for seq in (r.seq for r in rows)
        }
    assert [comparable(r.entry, r) for r in rows] == [comparable(e.entry, e) for e in at_once.events]
    assert [patients[r.seq] for r in rows] == [e.patients for e in at_once.events]
    assert {p1} in [e.patients for e in at_once.events]  # the reads did name the patient read about
    assert all(p2 not in e.patients for e in at_once.events)  # ...not the one the subject moved to later

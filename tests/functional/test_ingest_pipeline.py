"""The ingest pipeline on a real store: every message stored first, idempotent replays, dead letters
fixed and replayed, merges, CSV exports with a member's mapping, and the quality report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ingest"))
from v2_fixtures import CODES, PID, adt, msh, oru  # noqa: E402

from yilian.ingest import store  # noqa: E402
from yilian.ingest.intake import hl7_items  # noqa: E402
from yilian.ingest.pipeline import ingest, replay  # noqa: E402
from yilian.ingest.quality import report  # noqa: E402
from yilian.ingest.service import fix, register_mapping  # noqa: E402
from yilian.testing.plugin import caller  # noqa: E402


@pytest.fixture
def member(fhir, gate):
    fhir.put("Organization/m-a", {"resourceType": "Organization", "id": "m-a", "name": "甲医院"})
    store.save_code_tables(gate.engine, "m-a", CODES)
    return "m-a"


def send(gate, text: str, member: str | None = "m-a", **kw):  # noqa: ANN001, ANN003, ANN201
    return ingest(gate, hl7_items(text.encode("utf-8"), member=member, **kw))


def total(fhir, query: str) -> int:  # noqa: ANN001
    return fhir.get(f"{query}{'&' if '?' in query else '?'}_summary=count").resource()["total"]


def test_an_oru_is_stored_processed_and_searchable(gate, fhir, member):
    (r,) = send(gate, oru())
    assert r.status == "processed" and r.resources == 5
    row = store.get_message(gate.engine, r.id)
    assert row.status == "processed" and row.kind == "ORU^R01" and row.control_id == "C1"
    assert row.event_at is not None and row.payload.startswith(b"MSH|")
    assert total(fhir, "Observation?code=http://loinc.org|14771-0") == 1
    found = fhir.get("Patient?identifier=urn:oid:2.16.156.10011.1.2.1|A1001").resource()["entry"]
    assert found[0]["resource"]["meta"]["tag"][0]["code"] == "m-a"  # written as the member's system


def test_the_same_message_twice_is_a_duplicate_and_changes_nothing(gate, fhir, member):
    send(gate, oru())
    before = {t: total(fhir, t) for t in ("Patient", "Observation", "DiagnosticReport", "Encounter")}
    (again,) = send(gate, oru())
    assert again.status == "duplicate" and again.duplicate_of is not None
    assert {t: total(fhir, t) for t in before} == before
    # a resend under a new control id is processed, and its conditional creates match: still no duplicates
    (resent,) = send(gate, oru("C1-resent"))
    assert resent.status == "processed"
    assert {t: total(fhir, t) for t in before} == before


def test_a_correction_updates_the_result(gate, fhir, member):
    send(gate, oru())
    send(gate, oru("C2", glucose="6.0", status="C"))
    (obs,) = [
        e["resource"] for e in fhir.get("Observation?code=http://loinc.org|14771-0").resource()["entry"]
    ]
    assert (
        obs["valueQuantity"]["value"] == 6.0
        and obs["status"] == "corrected"
        and obs["meta"]["versionId"] == "2"
    )


def test_dead_letter_then_fix_then_replay(gate, fhir, member):
    bad = oru("C3", glucose="偏高")
    (r,) = send(gate, bad)
    assert r.status == "rejected" and "OBX-5" in r.error and "not a number" in r.error
    (letter,) = store.list_messages(gate.engine, status="rejected")
    assert letter.id == r.id and letter.payload == bad.encode()
    assert total(fhir, "Observation") == 0  # all or nothing
    (fixed,) = fix(gate, r.id, oru("C3", glucose="7.1").encode())
    assert fixed.status == "processed"
    assert store.get_message(gate.engine, r.id).status == "processed"
    assert store.list_messages(gate.engine, status="rejected") == []
    assert total(fhir, "Observation?code=http://loinc.org|14771-0") == 1


def test_a_result_refused_by_the_store_waits_and_replays_once_fixed_upstream(gate, fhir, member):
    # a code table fixed after the fact: the unmapped code is counted, then mapped on replay
    (r,) = send(gate, oru("C4"))
    assert [u[1] for u in report(gate, caller("admin", None), "m-a")[0].unmapped] == ["K"]
    store.save_code_tables(
        gate.engine,
        "m-a",
        {"lab": {**CODES["lab"], "K": ("钾", [{"system": "http://loinc.org", "code": "2823-3"}])}},
    )
    replay(gate, [r.id])
    assert report(gate, caller("admin", None), "m-a")[0].unmapped == []


def test_resending_a_rejected_message_replaces_its_dead_letter(gate, member):
    (first,) = send(gate, oru("C5", glucose="x"))
    (second,) = send(gate, oru("C5"))
    assert first.status == "rejected" and second.status == "processed"
    assert store.get_message(gate.engine, first.id).status == "resent"
    assert store.list_messages(gate.engine, status="rejected") == []


def test_an_unknown_sender_is_stored_and_refused(gate):
    (r,) = send(gate, oru(), member=None)  # MSH-4 says m-a, which is no Organization here
    assert r.status == "rejected" and "not a member of the alliance" in r.error
    assert store.get_message(gate.engine, r.id).member == "m-a"


def test_a_member_removed_from_the_alliance_is_refused_within_the_time_members_are_kept(
    gate, fhir, member, monkeypatch
):
    """The sender's Organization is looked up once per MEMBERS_KEPT_S, not for every message."""
    import yilian.ingest.pipeline as pipeline

    clock = [1000.0]
    monkeypatch.setattr(pipeline.known_members, "clock", lambda: clock[0])
    assert send(gate, oru("T1"))[0].status == "processed"
    assert fhir.delete("Organization/m-a").status in (200, 204)
    assert send(gate, oru("T2"))[0].status == "processed"  # still known: no lookup
    clock[0] += pipeline.MEMBERS_KEPT_S + 1
    (refused,) = send(gate, oru("T3"))
    assert refused.status == "rejected" and "not a member of the alliance" in refused.error


def test_undecodable_bytes_are_still_stored(gate, member):
    (r,) = ingest(gate, hl7_items(b"\x80\x81garbage", member="m-a"))
    assert r.status == "rejected"
    assert store.get_message(gate.engine, r.id).payload == b"\x80\x81garbage"


def test_prepared_in_worker_processes_as_in_one(gate, fhir, member, monkeypatch):
    """60 reports prepared in a worker process (plans made there, applied by the one writer): a bad one is
    refused alone, a correction (planned by the writer: it needs a search) applies, a copy is a duplicate."""
    import yilian.ingest.prepare as prepare

    monkeypatch.setattr(prepare.os, "cpu_count", lambda: 4)  # a worker even on a one-core machine
    texts = [oru(f"W{n}").replace("R100", f"R{n}") for n in range(60)]
    texts[7] = oru("W7", glucose="偏高").replace("R100", "R7")
    texts[30] = oru("W30", glucose="6.0", status="C").replace("R100", "R29")  # corrects W29's result
    items = [hl7_items(t.encode(), member="m-a")[0] for t in texts]
    results = ingest(gate, items, workers=2)
    assert [r.status for r in results] == ["processed"] * 7 + ["rejected"] + ["processed"] * 52
    assert results[7].location == "OBX-5" and results[0].resources == 5
    assert total(fhir, "Patient") == 1 and total(fhir, "DiagnosticReport") == 58
    assert total(fhir, "Observation") == 58 * 2  # W30 updated two results of W29's report
    assert total(fhir, "Observation?status=corrected") == 2
    (again,) = ingest(gate, [hl7_items(texts[0].encode(), member="m-a")[0]], workers=2)
    assert again.status == "duplicate" and total(fhir, "Observation") == 116


@pytest.mark.parametrize("workers", [0, 2])
def test_stored_in_chunks_all_before_any_is_written(gate, fhir, member, monkeypatch, workers):
    """A big batch is stored a chunk at a time (preparing starts on the first chunk while the rest are
    stored), yet every message is stored before the first is written, and a copy in a later chunk is
    still a duplicate of the first, as in one chunk."""
    import yilian.ingest.pipeline as pipeline
    import yilian.ingest.prepare as prepare

    monkeypatch.setattr(prepare.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(pipeline, "INTAKE_CHUNK", 7)
    texts = [oru(f"K{n}").replace("R100", f"R{n}") for n in range(60)]
    texts[40] = texts[3]  # the same message again, five chunks later
    items = [hl7_items(t.encode(), member="m-a")[0] for t in texts]
    stored_at_first_write = []
    write = pipeline.write

    def counting_write(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not stored_at_first_write:
            stored_at_first_write.append(len(store.list_messages(gate.engine, limit=1000)))
        return write(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write", counting_write)
    results = ingest(gate, items, workers=workers)
    assert stored_at_first_write == [60]
    assert [r.status for r in results].count("processed") == 59
    assert results[40].status == "duplicate" and results[40].duplicate_of == results[3].id
    assert store.get_message(gate.engine, results[3].id).status == "processed"
    assert total(fhir, "DiagnosticReport") == 59


def test_another_members_message_under_the_same_control_id_is_no_resend(gate, fhir, member):
    """Idempotency keys are per member: a second member sending control id C6 leaves the first
    member's rejected C6 a dead letter (it is not that message resent)."""
    fhir.put("Organization/m-b", {"resourceType": "Organization", "id": "m-b", "name": "乙医院"})
    store.save_code_tables(gate.engine, "m-b", CODES)
    (rejected,) = send(gate, oru("C6", glucose="x"))
    (other,) = send(gate, oru("C6").replace("|m-a|", "|m-b|"), member="m-b")
    assert rejected.status == "rejected" and other.status == "processed"
    assert store.get_message(gate.engine, rejected.id).status == "rejected"


def test_preparing_processes_are_at_most_one_per_core_and_none_on_one(monkeypatch):
    import yilian.ingest.prepare as prepare

    asked = (0, 1, 2, 8)
    monkeypatch.setattr(prepare.os, "cpu_count", lambda: 1)
    assert [prepare.preparing_processes(n) for n in asked] == [0, 0, 0, 0]
    monkeypatch.setattr(prepare.os, "cpu_count", lambda: 2)
    assert [prepare.preparing_processes(n) for n in asked] == [0, 1, 2, 2]
    monkeypatch.setattr(prepare.os, "cpu_count", lambda: 4)
    assert [prepare.preparing_processes(n) for n in asked] == [0, 1, 2, 4]


def test_a40_retires_the_prior_record_keeping_its_content(gate, fhir, member):
    old_pid = PID.replace("A1001^", "A0999^")
    send(gate, adt("A1", pid=old_pid))
    send(gate, adt("A2"))
    merge = (
        "\r".join(
            [
                msh("ADT^A40^ADT_A39", "M1"),
                "EVN|A40|20260302",
                PID,
                "MRG|A0999^^^&2.16.156.10011.1.2.1&ISO^MR",
            ]
        )
        + "\r"
    )
    (r,) = send(gate, merge)
    assert r.status == "processed", r.error
    prior = fhir.get("Patient?identifier=urn:oid:2.16.156.10011.1.2.1|A0999").resource()["entry"][0][
        "resource"
    ]
    survivor = fhir.get("Patient?identifier=urn:oid:2.16.156.10011.1.2.1|A1001").resource()["entry"][0][
        "resource"
    ]
    assert prior["active"] is False and prior["name"][0]["text"] == "张伟"
    assert prior["link"] == [{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}]
    assert survivor["link"][0]["type"] == "replaces"
    (unknown,) = send(gate, merge.replace("M1", "M2").replace("A0999^", "Z9^"))
    assert unknown.status == "rejected" and "names no patient" in unknown.error


def test_adt_update_changes_demographics_without_a_new_patient(gate, fhir, member):
    send(gate, adt("A1"))
    send(gate, adt("A3", "A08", pid=PID.replace("13800001234", "13999998888")))
    (p,) = [e["resource"] for e in fhir.get("Patient").resource()["entry"]]
    assert p["telecom"][0]["value"] == "13999998888" and p["meta"]["versionId"] == "2"
    assert total(fhir, "Encounter") == 1


MAPPING = """
member = "m-c"
mrn_system = "urn:oid:2.16.156.10011.1.2.4"
[files.patients]
match = "*档案*"
[files.patients.columns]
mrn = "档案号"
name = "姓名"
gender = "性别"
birth_date = "出生日期"
resident_id = "身份证号"
[files.results]
match = "*检验*"
group_by = "report_no"
[files.results.columns]
report_no = "报告号"
mrn = "档案号"
item_code = "项目"
item_name = "名称"
value = "结果"
unit = "单位"
observed_at = "时间"
panel_code = "组合"
panel_name = "组合名称"
[files.visits]
match = "*就诊*"
[files.visits.columns]
visit_no = "就诊号"
mrn = "档案号"
start = "就诊时间"
doctor_id = "医生工号"
doctor_name = "医生"
[codes.lab]
XT = "14771-0"
SHQ = { loinc = "24323-8", display = "生化" }
"""


def test_csv_with_a_member_mapping_and_replay_after_the_patient_arrives(gate, fhir, tmp_path):
    from yilian.ingest.service import ingest_paths

    fhir.put("Organization/m-c", {"resourceType": "Organization", "id": "m-c", "name": "丙社区"})
    register_mapping(gate, "m-c", MAPPING)
    results_file = tmp_path / "检验_0301.csv"
    results_file.write_bytes(
        "报告号,档案号,项目,名称,结果,单位,时间,组合,组合名称\n"
        "R1,H1,XT,血糖,6.1,mmol/L,2026-03-01 08:30,SHQ,生化\n"
        "R1,H1,GG,谷丙转氨酶,20,U/L,2026-03-01 08:30,SHQ,生化\n".encode("gb18030")
    )
    (early,) = ingest_paths(gate, [results_file], member="m-c")
    assert early.status == "rejected" and "matches no resource" in early.error  # the patient is not there yet
    patients = tmp_path / "居民档案.csv"
    patients.write_bytes(
        "\ufeff档案号,姓名,性别,出生日期,身份证号\nH1,王芳,女,1970/5/3,330108197005030023\n".encode()
    )
    (p,) = ingest_paths(gate, [patients], member="m-c")
    assert p.status == "processed", p.error
    (again,) = replay(gate)
    assert again.status == "processed", again.error
    (report_,) = [e["resource"] for e in fhir.get("DiagnosticReport").resource()["entry"]]
    assert report_["code"]["coding"][0]["code"] == "24323-8" and len(report_["result"]) == 2
    assert total(fhir, "Observation?code=http://loinc.org|14771-0") == 1
    (q,) = report(gate, caller("admin", None), "m-c")
    assert [(k, c) for k, c, _, _ in q.unmapped] == [("lab", "GG")]
    assert q.messages["processed"] == 2
    patient = fhir.get("Patient").resource()["entry"][0]["resource"]
    assert patient["gender"] == "female" and patient["birthDate"] == "1970-05-03"
    (same,) = ingest_paths(gate, [patients], member="m-c")
    assert same.status == "duplicate"  # the same row again (content hash)


def test_csv_mapping_errors_are_readable(gate):
    from yilian.ingest.errors import IngestError

    with pytest.raises(IngestError, match="required fields"):
        register_mapping(gate, "m-c", '[files.results]\n[files.results.columns]\nmrn = "档案号"\n')
    with pytest.raises(IngestError, match="unknown kind"):
        register_mapping(gate, "m-c", "[files.wards]\n")
    with pytest.raises(IngestError, match="not valid TOML"):
        register_mapping(gate, "m-c", "[files")


def test_quality_report_counts_completeness_and_timeliness(gate, member):
    send(gate, oru("Q1"), received_at=1772325000 + 3600)  # one hour after the observation (08:30 +08:00)
    send(gate, oru("Q2", glucose="x"))
    (q,) = report(gate, caller("admin", None), "m-a")
    assert q.messages["processed"] == 1 and q.messages["rejected"] == 1 and q.rejection_rate == 0.5
    assert q.reasons and "OBX-5" in q.reasons[0][0]
    assert q.delays_h == [pytest.approx(1.0, abs=0.01)]
    rid = next(c for c in q.completeness if "resident ID" in c.element)
    assert (rid.present, rid.total) == (1, 1)
    loinc = next(c for c in q.completeness if "LOINC" in c.element)
    assert (loinc.present, loinc.total) == (1, 2)  # K is unmapped


def dangling_references(gate) -> list[tuple[str, str]]:  # noqa: ANN001
    """(resource type, reference) of every literal reference in the store that names no stored resource."""
    import re

    from sqlalchemy import text

    with gate.engine.connect() as conn:
        rows = conn.execute(text("SELECT type, id, content FROM resources")).all()
    stored = {f"{rtype}/{rid}" for rtype, rid, _ in rows}
    refs = [(rtype, ref.decode()) for rtype, _, c in rows for ref in re.findall(rb'"reference":"([^"]+)"', c)]
    return [(rtype, ref) for rtype, ref in refs if ref not in stored]


def test_results_refer_to_the_patient_and_visit_registered_before(gate, fhir, member):
    """The ORU's patient and visit are conditional creates that match what the ADT stored: every
    result and the report must refer to those (the mapper shares one reference object among them)."""
    send(gate, adt("A1"))
    send(gate, oru("C1"))
    assert dangling_references(gate) == []
    (patient,) = [e["resource"] for e in fhir.get("Patient").resource()["entry"]]
    (report_,) = [
        e["resource"]
        for e in fhir.get(f"DiagnosticReport?subject=Patient/{patient['id']}").resource()["entry"]
    ]
    assert len(report_["result"]) == 2
    for result in report_["result"]:
        observation = fhir.get(result["reference"]).resource()
        assert observation["subject"]["reference"] == f"Patient/{patient['id']}"
        assert observation["encounter"] == report_["encounter"]


def test_csv_rows_planned_by_the_writer_refer_to_the_clinician_stored_before(gate, fhir, tmp_path):
    """Visit rows name their patient by a conditional reference, so the writer plans them (a preparing
    process cannot search); their clinician, a conditional create matching the one stored by an earlier
    row, must be referred to by its stored id."""
    from yilian.ingest.service import ingest_paths

    fhir.put("Organization/m-c", {"resourceType": "Organization", "id": "m-c", "name": "丙社区"})
    register_mapping(gate, "m-c", MAPPING)
    patients = tmp_path / "居民档案.csv"
    patients.write_bytes("档案号,姓名,性别,出生日期\nH1,王芳,女,1970-05-03\n".encode())
    visits = tmp_path / "就诊_0301.csv"
    visits.write_bytes(
        "就诊号,档案号,就诊时间,医生工号,医生\n"
        "V1,H1,2026-03-01 08:30,s01,黄涛\nV2,H1,2026-03-02 09:00,s01,黄涛\n".encode()
    )
    results = ingest_paths(gate, [patients, visits], member="m-c")
    assert [r.status for r in results] == ["processed"] * 3, [r.error for r in results]
    assert dangling_references(gate) == []
    (doctor,) = [e["resource"] for e in fhir.get("Practitioner").resource()["entry"]]
    for e in fhir.get("Encounter").resource()["entry"]:
        assert e["resource"]["participant"][0]["individual"]["reference"] == f"Practitioner/{doctor['id']}"

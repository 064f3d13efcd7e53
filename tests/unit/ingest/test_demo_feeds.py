"""The demo alliance's members each speak their own format, and the demo is loaded through the feeds."""

from __future__ import annotations

from collections import Counter

import pytest

from yilian.demo.alliance import build_demo_alliance
from yilian.demo.feeds import member_feeds
from yilian.ingest.csv.mapping import parse_mapping
from yilian.ingest.hl7v2.decode import decode
from yilian.ingest.hl7v2.message import Message


@pytest.fixture(scope="module")
def feeds():
    return member_feeds(build_demo_alliance(patients=20, seed=11), 11)


def test_hospitals_send_hl7_v2_and_community_centres_csv(feeds):
    formats = {f.member_id: f.format for f in feeds}
    assert formats["m-tertiary-1"] == formats["m-secondary-1"] == "hl7v2"
    assert {formats[f"m-community-{n}"] for n in range(1, 5)} == {"csv"}
    kinds = Counter(item.kind for f in feeds for item in f.items)
    for kind in (
        "ADT^A04",
        "ADT^A08",
        "ORU^R01",
        "RDE^O11",
        "MDM^T02",
        "csv:patients",
        "csv:visits",
        "csv:results",
        "csv:prescriptions",
        "csv:contracts",
        "csv:diagnoses",
        "csv:staff",
        "MFN^M02",
    ):
        assert kinds[kind] > 0, kind


def test_each_member_sends_its_roster_before_anything_clinical(feeds):
    """A hospital's first message is its staff master file, a centre's first file its staff export:
    every clinician, with sex and title, arrives before the records that name them."""
    for feed in feeds:
        first = feed.items[0]
        if feed.format == "hl7v2":
            assert first.kind == "MFN^M02" and sum(i.kind == "MFN^M02" for i in feed.items) == 1
            msg = Message(decode(first.payload).text)
            stf = msg.all("STF")
            assert len(stf) == len(msg.all("MFE")) == len(msg.all("ORG")) > 0
            assert all(s.get(5) in ("M", "F") and s.get(18) for s in stf)  # sex, job title
        else:
            staff = [i for i in feed.items if i.kind == "csv:staff"]
            assert feed.items[: len(staff)] == staff and len(staff) == 4  # one message per row


def test_every_hl7_message_parses_and_arrives_after_its_event(feeds):
    for feed in (f for f in feeds if f.format == "hl7v2"):
        for item in feed.items:
            msg = Message(decode(item.payload).text)
            assert msg.control_id == item.control_id and msg.msh.get(4) == feed.member_id
            assert item.received_at > 0


def test_the_two_csv_vendors_differ_and_each_mapping_reads_its_files(feeds):
    a, b = (next(f for f in feeds if f.member_id == m) for m in ("m-community-1", "m-community-2"))
    assert parse_mapping(a.mapping).encoding == "utf-8" and parse_mapping(b.mapping).encoding == "gb18030"
    assert a.files[0][1].startswith("\ufeff".encode())
    b.files[0][1].decode("gb18030")
    patients_a, patients_b = (next(i for i in f.items if i.kind == "csv:patients") for f in (a, b))
    header_a = patients_a.payload.decode().splitlines()[0]
    header_b = patients_b.payload.decode().splitlines()[0]
    assert "健康档案编号" in header_a and "JKDABH" in header_b
    arrivals = [i.received_at for i in a.items]
    assert arrivals == sorted(arrivals)  # weekly exports, in order


def test_demo_loaded_through_the_feeds(gate, fhir):
    from yilian.demo.load import load_demo
    from yilian.ingest import store

    summary = load_demo(gate, patients=6, seed=4)
    assert summary.messages > 50 and summary.rejected == 0
    assert store.list_messages(gate.engine, status="rejected") == []
    assert len(summary.alliance.truth) == 6
    loinc = fhir.get("Observation?code=http://loinc.org|85354-9&_summary=count").resource()["total"]
    assert loinc > 0
    for rtype in (
        "Condition",
        "MedicationRequest",
        "DiagnosticReport",
        "Encounter",
        "Practitioner",
        "PractitionerRole",
    ):
        assert fhir.get(f"{rtype}?_summary=count").resource()["total"] > 0, rtype
    members = {
        e["resource"]["meta"]["tag"][0]["code"] for e in fhir.get("Patient?_count=100").resource()["entry"]
    }
    assert any(m.startswith("m-community") for m in members) and any("hospital" not in m for m in members)

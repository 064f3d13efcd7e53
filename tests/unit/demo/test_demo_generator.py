"""The synthetic demo alliance: deterministic, well-formed FHIR R4 feeds with realistic identity noise."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from yilian.alliance.codes import (
    ALLIANCE_MODEL_EXT,
    HEALTH_RECORD_OID_ROOT,
    MEMBER_TYPE,
    RESIDENT_ID,
    SOURCE_MEMBER,
    member_type_of,
)
from yilian.demo import names
from yilian.demo.alliance import DemoAlliance, build_demo_alliance
from yilian.demo.feed import TODAY
from yilian.demo.people import is_valid_resident_id, resident_id_check_char

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo() -> DemoAlliance:
    return build_demo_alliance()


def _dump(d: DemoAlliance) -> str:
    return json.dumps(dataclasses.asdict(d), ensure_ascii=False, sort_keys=True)


def _resources(d: DemoAlliance):
    for member_id, bundle in d.feeds:
        for entry in bundle["entry"]:
            yield member_id, entry


def _patient(bundle: dict) -> dict:
    (patient,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    return patient


def _identifier(resource: dict, system: str) -> str | None:
    return next((i["value"] for i in resource.get("identifier", []) if i["system"] == system), None)


def _mrn(patient: dict) -> tuple[str, str]:
    (mr,) = [i for i in patient["identifier"] if i["system"].startswith(f"urn:oid:{HEALTH_RECORD_OID_ROOT}.")]
    return mr["system"], mr["value"]


def _registered(d: DemoAlliance) -> dict[tuple[str, str], dict]:
    """(member id, MRN) -> that member's Patient."""
    return {(m, _mrn(_patient(b))[1]): _patient(b) for m, b in d.feeds}


def _references(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


# --- determinism and shape -------------------------------------------------------------------


def test_same_seed_gives_identical_json(demo: DemoAlliance) -> None:
    assert _dump(build_demo_alliance()) == _dump(demo)


def test_a_different_seed_gives_different_data(demo: DemoAlliance) -> None:
    other = build_demo_alliance(seed=7)
    assert _dump(other) != _dump(demo)
    assert _patient(other.feeds[0][1])["name"] != _patient(demo.feeds[0][1])["name"]


def test_patient_count_is_respected() -> None:
    small = build_demo_alliance(patients=5, seed=3)
    assert len(small.truth) == 5


def test_member_mix_and_alliance(demo: DemoAlliance) -> None:
    kinds = Counter(member_type_of(m) for m in demo.members)
    assert kinds == {
        "tertiary-hospital": 1,
        "secondary-hospital": 2,
        "community-health-centre": 4,
        "public-health": 1,
    }
    assert member_type_of(demo.alliance) == "alliance"
    (model,) = [e for e in demo.alliance["extension"] if e["url"] == ALLIANCE_MODEL_EXT]
    assert model["valueCoding"]["code"] == "city-medical-group"
    ids = [m["id"] for m in demo.members]
    assert len(set(ids)) == 8 and "m-tertiary-1" in ids
    for m in demo.members:
        assert m["partOf"]["reference"] == f"Organization/{demo.alliance['id']}"
        assert CJK.search(m["name"]) and m["alias"] and not CJK.search(m["alias"][0])
        assert m["type"][0]["coding"][0]["system"] == MEMBER_TYPE
        assert m["address"] and m["telecom"]
        assert re.fullmatch(r"12\d{6}[0-9A-Z]{10}", m["identifier"][0]["value"])


def test_volume_is_rich_but_loads_in_seconds(demo: DemoAlliance) -> None:
    total = sum(len(b["entry"]) for _, b in demo.feeds)
    assert 3000 <= total <= 6000
    types = Counter(e["resource"]["resourceType"] for _, e in _resources(demo))
    for rtype in (
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Encounter",
        "Condition",
        "Observation",
        "DiagnosticReport",
        "ImagingStudy",
        "MedicationRequest",
        "MedicationStatement",
        "AllergyIntolerance",
        "Procedure",
        "Immunization",
        "CarePlan",
    ):
        assert types[rtype] > 0, rtype
    assert len(demo.feeds) == types["Patient"]


def test_history_spans_2022_to_today_in_china_time(demo: DemoAlliance) -> None:
    years = set()
    for _, e in _resources(demo):
        r = e["resource"]
        if r["resourceType"] == "Observation":
            when = r["effectiveDateTime"]
            assert when.endswith("+08:00")
            assert date.fromisoformat(when[:10]) <= TODAY
            years.add(when[:4])
    assert {"2022", "2023", "2024", "2025", "2026"} <= years


# --- resident IDs ------------------------------------------------------------------------------


def test_check_char_of_known_ids() -> None:
    assert resident_id_check_char("11010519491231002") == "X"
    assert resident_id_check_char("44052418800101001") == "4"
    assert is_valid_resident_id("11010519491231002X")
    assert is_valid_resident_id("440524188001010014")
    assert is_valid_resident_id("11010519491231002x")  # typed in lower case


def test_every_single_character_typo_is_caught() -> None:
    valid = "11010519491231002X"
    for i in range(17):
        for digit in "0123456789":
            if digit != valid[i]:
                assert not is_valid_resident_id(valid[:i] + digit + valid[i + 1 :]), (i, digit)
    for char in "0123456789":
        assert not is_valid_resident_id(valid[:17] + char)


def test_malformed_ids_are_rejected() -> None:
    for bad in (
        "",
        "1101051949123100",
        "11010519491231002XX",
        "1101051949123100AX",
        "110105194902300020",
        None,
        11010519491231002,
    ):
        assert not is_valid_resident_id(bad)


def test_every_resident_id_is_valid_and_matches_the_patient(demo: DemoAlliance) -> None:
    registered = _registered(demo)
    by_person: dict[str, set[str]] = defaultdict(set)
    seen = 0
    for person, regs in demo.truth.items():
        for reg in regs:
            patient = registered[reg]
            rid = _identifier(patient, RESIDENT_ID)
            if rid is None:
                continue
            seen += 1
            by_person[person].add(rid)
            assert is_valid_resident_id(rid), rid
            assert rid[6:14] == patient["birthDate"].replace("-", "")
            assert (int(rid[16]) % 2 == 1) == (patient["gender"] == "male")
    assert seen > 0.8 * len(demo.feeds)  # on most registrations
    assert all(len(ids) == 1 for ids in by_person.values())  # one person, one ID
    assert len({next(iter(ids)) for ids in by_person.values()}) == len(by_person)


# --- registrations and the linkage truth -------------------------------------------------------


def test_truth_covers_every_registration_exactly_once(demo: DemoAlliance) -> None:
    registered = [(member_id, _mrn(_patient(b))[1]) for member_id, b in demo.feeds]
    in_truth = [reg for regs in demo.truth.values() for reg in regs]
    assert Counter(registered) == Counter(in_truth)
    assert len(set(in_truth)) == len(in_truth)
    assert all(1 <= len(regs) <= 3 for regs in demo.truth.values())
    assert any(len(regs) >= 2 for regs in demo.truth.values())
    community = {m["id"] for m in demo.members if member_type_of(m) == "community-health-centre"}
    assert all(sum(m in community for m, _ in regs) == 1 for regs in demo.truth.values())


def test_mrn_system_is_the_members_oid_and_the_conditional_create_key(demo: DemoAlliance) -> None:
    number = {m: i for i, m in enumerate((m["id"] for m in demo.members), start=1)}
    for member_id, bundle in demo.feeds:
        entry = bundle["entry"][0]
        assert entry["resource"]["resourceType"] == "Patient"
        system, value = _mrn(entry["resource"])
        assert system == f"urn:oid:{HEALTH_RECORD_OID_ROOT}.{number[member_id]}"
        assert entry["request"] == {
            "method": "POST",
            "url": "Patient",
            "ifNoneExist": f"identifier={system}|{value}",
        }
        assert entry["resource"]["managingOrganization"]["reference"] == f"Organization/{member_id}"


def test_some_registrations_are_pinyin_only(demo: DemoAlliance) -> None:
    pinyin = [
        p
        for p in (_patient(b) for _, b in demo.feeds)
        if not CJK.search(json.dumps(p["name"], ensure_ascii=False))
    ]
    assert pinyin
    for p in pinyin:
        (name,) = p["name"]
        assert name["use"] == "usual" and re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z']+", name["text"])


def test_registrations_differ_realistically(demo: DemoAlliance) -> None:
    """Missing IDs, old phones and typos exist, and a typo is one character of a Chinese name."""
    registered = _registered(demo)
    missing_id = typo = phone_differs = 0
    for regs in demo.truth.values():
        patients = [registered[reg] for reg in regs]
        missing_id += sum(_identifier(p, RESIDENT_ID) is None for p in patients)
        chinese = {p["name"][0]["text"] for p in patients if CJK.search(p["name"][0]["text"])}
        if len(chinese) > 1:
            a, b = sorted(chinese)
            assert len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1
            typo += 1
        mobiles = {t["value"] for p in patients for t in p.get("telecom", []) if t["use"] == "mobile"}
        phone_differs += len(mobiles) > 1
    assert missing_id and typo and phone_differs


def test_households_share_an_address_and_twins_a_birth_date(demo: DemoAlliance) -> None:
    registered = _registered(demo)
    community = {m["id"] for m in demo.members if member_type_of(m) == "community-health-centre"}
    homes: dict[str, set[str]] = defaultdict(set)
    births: dict[tuple[str, str], set[str]] = defaultdict(set)
    for person, regs in demo.truth.items():
        patient = registered[next(r for r in regs if r[0] in community)]
        home = patient["address"][0]["text"]
        homes[home].add(person)
        births[(home, patient["birthDate"])].add(person)
    assert any(len(people) >= 2 for people in homes.values())
    assert any(len(people) == 2 for people in births.values())


# --- bundles -----------------------------------------------------------------------------------


def test_bundles_are_transactions_whose_references_resolve(demo: DemoAlliance) -> None:
    member_ids = {m["id"] for m in demo.members}
    for member_id, bundle in demo.feeds:
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        urls = [e["fullUrl"] for e in bundle["entry"]]
        assert len(set(urls)) == len(urls)
        assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", u) for u in urls)
        for ref in _references(bundle):
            if ref.startswith("Organization/"):
                assert ref == f"Organization/{member_id}"  # a member only speaks for itself
            else:
                assert ref in urls, ref
    assert {m for m, _ in demo.feeds} <= member_ids


def test_every_resource_is_tagged_with_its_feeds_member(demo: DemoAlliance) -> None:
    conditional = {"Patient", "Practitioner", "PractitionerRole"}
    for member_id, entry in _resources(demo):
        r = entry["resource"]
        assert "id" not in r
        assert r["meta"]["tag"] == [{"system": SOURCE_MEMBER, "code": member_id}]
        assert entry["request"]["method"] == "POST" and entry["request"]["url"] == r["resourceType"]
        assert ("ifNoneExist" in entry["request"]) == (r["resourceType"] in conditional)


def test_practitioners_belong_to_the_member(demo: DemoAlliance) -> None:
    for member_id, entry in _resources(demo):
        r = entry["resource"]
        if r["resourceType"] == "PractitionerRole":
            assert r["organization"]["reference"] == f"Organization/{member_id}"
        if r["resourceType"] == "Practitioner":
            assert CJK.search(r["name"][0]["text"]) and member_id in r["identifier"][0]["system"]


def test_each_members_roster_holds_its_whole_staff_and_everyone_its_records_name(demo: DemoAlliance) -> None:
    """The roster (what the member's staff system sends) has every clinician with sex, birth date, phone,
    title and department; a clinician a record names is in the member's roster, alike in every detail."""
    from yilian.demo.alliance import MEMBERS

    rosters = dict(demo.rosters)
    assert set(rosters) == {m.id for m in MEMBERS}
    for m in MEMBERS:
        entries = [e["resource"] for e in rosters[m.id]["entry"]]
        people = {r["identifier"][0]["value"]: r for r in entries if r["resourceType"] == "Practitioner"}
        roles = [r for r in entries if r["resourceType"] == "PractitionerRole"]
        assert len(people) == len(roles) == len(m.departments)
        for p in people.values():
            assert p["gender"] in ("male", "female") and p["qualification"][0]["code"]["text"]
            assert date.fromisoformat(p["birthDate"]).year <= 1995 and re.fullmatch(
                r"1\d{10}", p["telecom"][0]["value"]
            )
        for role in roles:
            assert role["specialty"][0]["text"] and date.fromisoformat(role["period"]["start"]) <= date(
                2021, 12, 1
            )
            assert role["organization"]["reference"] == f"Organization/{m.id}"
    for member_id, entry in _resources(demo):
        r = entry["resource"]
        if r["resourceType"] == "Practitioner":
            rostered = next(
                e["resource"]
                for e in rosters[member_id]["entry"]
                if e["resource"].get("identifier") == r["identifier"]
                and e["resource"]["resourceType"] == "Practitioner"
            )
            assert rostered == r


# --- clinical content --------------------------------------------------------------------------


def test_conditions_carry_icd10_with_a_chinese_display(demo: DemoAlliance) -> None:
    codes = set()
    for _, e in _resources(demo):
        r = e["resource"]
        if r["resourceType"] == "Condition":
            icd = [c for c in r["code"]["coding"] if c["system"] == "http://hl7.org/fhir/sid/icd-10"]
            assert icd and CJK.search(icd[0]["display"]) and CJK.search(r["code"]["text"])
            codes.add(icd[0]["code"])
    assert {"I10", "E11.9"} <= codes


def test_hypertensive_readings_are_sometimes_controlled_and_sometimes_not(demo: DemoAlliance) -> None:
    readings: dict[str, list[int]] = defaultdict(list)
    flagged = set()
    for _, e in _resources(demo):
        r = e["resource"]
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "85354-9":
            systolic = next(c for c in r["component"] if c["code"]["coding"][0]["code"] == "8480-6")
            assert systolic["valueQuantity"]["unit"] == "mm[Hg]"
            readings[r["subject"]["reference"]].append(systolic["valueQuantity"]["value"])
            if "interpretation" in systolic:
                flagged.add(systolic["interpretation"][0]["coding"][0]["code"])
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "14771-0":
            assert r["valueQuantity"]["code"] == "mmol/L"
    assert any(min(v) < 140 <= max(v) for v in readings.values())
    assert "H" in flagged


def test_lab_reports_point_at_their_observations(demo: DemoAlliance) -> None:
    for _, bundle in demo.feeds:
        by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        for r in by_url.values():
            if r["resourceType"] == "DiagnosticReport" and "result" in r:
                assert all(by_url[x["reference"]]["resourceType"] == "Observation" for x in r["result"])
            if r["resourceType"] == "DiagnosticReport" and "imagingStudy" in r:
                assert CJK.search(r["conclusion"])


def test_pinyin_helpers() -> None:
    assert names.surname_pinyin("单") == "Shan" and names.surname_pinyin("区") == "Ou"
    assert names.given_pinyin("月娥") == "Yue'e"
    assert names.given_pinyin("秀英") == "Xiuying"
    used = {c for group in names.GIVEN_NAMES.values() for name in group for c in name}
    assert used | set(names.HOMOPHONES.values()) <= set(names.PINYIN)


# --- structural validity ----------------------------------------------------------------------


def test_every_resource_is_valid_fhir_r4(demo: DemoAlliance) -> None:
    validation = pytest.importorskip(
        "yilian.fhir.validation", reason="yilian.fhir.validation not available yet"
    )
    problems = []
    for resource in [demo.alliance, *demo.members, *(b for _, b in demo.feeds)]:
        problems += [(resource.get("resourceType"), issue) for issue in validation.validate(resource)]
    assert problems == []

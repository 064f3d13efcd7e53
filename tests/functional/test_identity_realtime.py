"""Real-time matching through the router: each Patient is matched as it arrives, and the adversarial
cases of the issue (households, twins, a shared phone, a newborn under the mother's ID, swapped day and
month, a mistyped resident ID) never link two people automatically."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from yilian.identity import index, links, realtime
from yilian.identity import model as models
from yilian.identity.settings import PERSON_SPEC
from yilian.identity.tables import mpi_keys, mpi_links, mpi_records
from yilian.identity.testing import patient, resident_id
from yilian.testing.plugin import caller

A, B, C = (caller("member-system", org) for org in ("m-a", "m-b", "m-c"))
RID = resident_id("330108", "1960-03-08", 137)


def register(fhir, who, resource) -> str:
    return fhir.as_(who).post("Patient", resource).resource()["id"]


def person_of(gate, patient_id: str) -> str:
    with gate.engine.connect() as conn:
        return index.get(conn, patient_id).person_id


def statuses(gate) -> dict:
    with gate.engine.connect() as conn:
        return {(r.a, r.b): r.status for r in conn.execute(select(mpi_links))}


def test_the_same_resident_at_three_members_is_one_person(fhir, gate):
    a = register(fhir, A, patient(rid=RID, mrn="A1"))
    b = register(fhir, B, patient(rid=RID, mrn="B1", address="江南大道12号阳光花园3幢", phone="057188881234"))
    c = register(fhir, C, patient(name=None, pinyin="Zhang Jianguo", rid=None, mrn="C1"))
    assert person_of(gate, a) == person_of(gate, b) == person_of(gate, c)
    person = fhir.get(f"Person/{person_of(gate, a)}/$golden").resource()
    assert sorted(link["target"]["reference"] for link in person["link"]) == sorted(
        f"Patient/{x}" for x in (a, b, c)
    )
    assert person["birthDate"] == "1960-03-08" and person["gender"] == "male"
    assert {"system": "urn:oid:2.16.156.10011.1.12", "value": RID, "use": "official"} in person["identifier"]
    assert person["name"][0]["text"] == "张建国"
    sources = {e["url"]: e["valueReference"]["reference"] for e in person["extension"][0]["extension"]}
    assert sources["resident_id"] in (f"Patient/{a}", f"Patient/{b}")


def test_an_update_is_matched_again_and_the_person_follows(fhir, gate):
    a = register(fhir, A, patient(rid=RID, mrn="A1"))
    b = register(
        fhir,
        B,
        patient(
            name="李秀英",
            sex="female",
            birth="1970-05-06",
            phone="13900000001",
            address="滨盛路8号",
            mrn="B1",
        ),
    )
    assert person_of(gate, a) != person_of(gate, b)
    fixed = fhir.get(f"Patient/{b}").resource()
    fixed.update({k: v for k, v in patient(rid=RID, mrn="B1").items() if k != "identifier"})
    fixed["identifier"].append({"system": "urn:oid:2.16.156.10011.1.12", "value": RID})
    fhir.as_(B).put(f"Patient/{b}", fixed)
    assert person_of(gate, a) == person_of(gate, b)


def test_twins_with_the_same_birth_date_and_address_are_two_people(fhir, gate):
    home = {"birth": "2015-06-01", "phone": "13811112222", "address": "西兴路120号江景苑2幢1单元301室"}
    one = register(fhir, A, patient("王浩宇", rid=resident_id("330108", "2015-06-01", 11), mrn="A1", **home))
    two = register(fhir, A, patient("王浩然", rid=None, mrn="A2", **home))
    three = register(
        fhir, B, patient("王子轩", rid=resident_id("330108", "2015-06-01", 13), mrn="B1", **home)
    )
    assert len({person_of(gate, x) for x in (one, two, three)}) == 3
    assert not [s for s in statuses(gate).values() if s == links.AUTO]


def test_siblings_sharing_the_family_phone_are_not_linked(fhir, gate):
    shared = {"phone": "057188886666", "address": "浦沿路66号滨和小区1幢"}
    older = register(fhir, A, patient("陈思远", birth="2012-04-02", rid=None, mrn="A1", **shared))
    younger = register(
        fhir, B, patient("陈思彤", birth="2016-09-12", sex="female", rid=None, mrn="B1", **shared)
    )
    assert person_of(gate, older) != person_of(gate, younger)
    assert statuses(gate) == {}


def test_a_newborn_registered_under_the_mothers_id_is_not_linked_to_her(fhir, gate):
    mother_rid = resident_id("330108", "1992-07-15", 222)
    mother = register(fhir, A, patient("刘芳", birth="1992-07-15", sex="female", rid=mother_rid, mrn="A1"))
    for mrn, name in (("B1", "刘芳之女"), ("B2", "李欣怡")):
        baby = register(fhir, B, patient(name, birth="2026-10-30", sex="female", rid=mother_rid, mrn=mrn))
        assert person_of(gate, baby) != person_of(gate, mother)
    with gate.engine.connect() as conn:
        assert conn.execute(select(mpi_records.c.features).where(mpi_records.c.patient_id == baby)).scalar()
        assert index.get(conn, baby).features["guardian_rid"] == mother_rid
    assert links.AUTO not in statuses(gate).values()


def test_a_newborn_under_the_mothers_name_and_id_without_a_birth_date_is_not_linked_to_her(fhir, gate):
    """The million-record batch's false links: 刘芳之女 with the mother's ID, phone and address and no
    birth date showed nothing to tell her from the mother; the name says whose child she is."""
    mother_rid = resident_id("330108", "1992-07-15", 222)
    mother = register(fhir, A, patient("刘芳", birth="1992-07-15", sex="female", rid=mother_rid, mrn="A1"))
    baby = register(fhir, B, patient("刘芳之女", birth=None, sex="female", rid=mother_rid, mrn="B1"))
    assert person_of(gate, baby) != person_of(gate, mother)
    with gate.engine.connect() as conn:
        assert index.get(conn, baby).features["guardian_rid"] == mother_rid
    assert links.AUTO not in statuses(gate).values()


def test_the_same_valid_id_with_a_conflicting_sex_goes_to_review(fhir, gate):
    rid = resident_id("330108", "1980-01-20", 135)  # male
    a = register(fhir, A, patient("赵明", birth=None, sex="male", rid=rid, mrn="A1"))
    b = register(fhir, B, patient("赵明", birth=None, sex="female", rid=rid, mrn="B1", phone=None))
    assert statuses(gate) == {links.ordered(a, b): links.REVIEW}
    assert person_of(gate, a) != person_of(gate, b)


def test_swapped_day_and_month_still_link(fhir, gate):
    a = register(fhir, A, patient(rid=RID, mrn="A1", birth="1960-03-08"))
    b = register(fhir, B, patient(rid=None, mrn="B1", birth="1960-08-03"))
    assert person_of(gate, a) == person_of(gate, b)


def test_a_mistyped_resident_id_links_its_owner_but_never_another_person(fhir, gate):
    body = RID[:17]
    wrong_check = body + ("0" if RID[17] != "0" else "1")
    a = register(fhir, A, patient(rid=RID, mrn="A1"))
    b = register(fhir, B, patient(rid=wrong_check, mrn="B1", phone=None, address=None))
    assert person_of(gate, a) == person_of(gate, b)
    stranger = register(
        fhir,
        C,
        patient(
            "孙丽华",
            birth="1975-11-30",
            sex="female",
            rid=wrong_check,
            phone="13700000000",
            address="长河路9号",
            mrn="C1",
        ),
    )
    assert person_of(gate, stranger) != person_of(gate, a)


def test_two_different_valid_ids_never_link_automatically(fhir, gate):
    a = register(fhir, A, patient(rid=RID, mrn="A1"))
    b = register(fhir, B, patient(rid=resident_id("330108", "1960-03-08", 139), mrn="B1"))
    assert person_of(gate, a) != person_of(gate, b)
    assert links.AUTO not in statuses(gate).values()


def test_a_member_merge_a40_retires_the_prior_record(fhir, gate):
    prior = register(fhir, A, patient(rid=None, mrn="A-old", name="张健国", phone=None, address=None))
    survivor = register(
        fhir, A, patient(rid=RID, mrn="A-new", name="周玉兰", sex="female", birth="1950-01-02")
    )
    retired = fhir.get(f"Patient/{prior}").resource()
    retired.update(
        active=False, link=[{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}]
    )
    fhir.as_(A).put(f"Patient/{prior}", retired)
    assert person_of(gate, prior) == person_of(gate, survivor)
    assert statuses(gate)[links.ordered(prior, survivor)] == links.MATCH
    with gate.engine.connect() as conn:
        assert index.get(conn, prior).active is False


def test_a_deleted_patient_leaves_the_index(fhir, gate):
    a = register(fhir, A, patient(rid=RID, mrn="A1"))
    b = register(fhir, B, patient(rid=RID, mrn="B1"))
    person = person_of(gate, a)
    fhir.as_(B).delete(f"Patient/{b}")
    with gate.engine.connect() as conn:
        assert index.get(conn, b) is None
    assert [x["target"]["reference"] for x in fhir.get(f"Person/{person}/$golden").resource()["link"]] == [
        f"Patient/{a}"
    ]


@pytest.mark.parametrize(
    "family,reading",
    [("曾", "zeng"), ("单", "shan"), ("解", "xie"), ("区", "ou"), ("朴", "piao"), ("查", "zha")],
)
def test_surnames_read_as_surnames_match_their_pinyin_registration(fhir, gate, family, reading):
    a = register(fhir, A, patient(family + "志刚", rid=None, mrn="A1"))
    b = register(fhir, B, patient(name=None, pinyin=f"{reading.capitalize()} Zhigang", rid=None, mrn="B1"))
    assert person_of(gate, a) == person_of(gate, b)


def test_a_survivor_that_arrives_after_its_a40_joins_the_retired_record(gate):
    """A member's merge can name a survivor the index has not seen yet: the pair waits in mpi_links, and
    the survivor, new as it is, is not a person of its own when it arrives."""
    retired = patient(rid=None, mrn="A-old", name="张健国", phone=None, address=None)
    retired.update(active=False, link=[{"other": {"reference": "Patient/later"}, "type": "replaced-by"}])
    with gate.engine.begin() as conn:
        model = models.active(conn, PERSON_SPEC)
        realtime.arrive(conn, PERSON_SPEC, model, "prior", 1, "m-a", retired)
        touched = realtime.arrive(conn, PERSON_SPEC, model, "later", 1, "m-a", patient(rid=RID, mrn="A-new"))
        assert index.get(conn, "later").person_id == index.get(conn, "prior").person_id
        assert index.get(conn, "prior").person_id in touched  # its golden record is recomputed
        assert links.status(conn, "prior", "later") == links.MATCH


def test_candidates_come_from_every_key_but_one_shared_by_too_many(gate):
    crowded = [{"key": "phone:057100000000", "patient_id": f"c{i:03d}"} for i in range(index.MAX_BLOCK + 1)]
    many = [f"name-birth:x{i}|1960-03-08" for i in range(index.KEYS_PER_QUERY + 5)]  # two statements
    rows = [
        *crowded,
        {"key": "id:1", "patient_id": "p2"},
        {"key": "id:1", "patient_id": "p1"},
        {"key": many[-1], "patient_id": "p3"},
        {"key": many[-1], "patient_id": "p1"},
        {"key": "name-birth:li|1960-03-08", "patient_id": "self"},
    ]
    with gate.engine.begin() as conn:
        conn.execute(mpi_keys.insert(), rows)
        found = index.candidates(conn, ["phone:057100000000", "id:1", *many], exclude="self")
        assert sorted(found) == ["p1", "p2", "p3"]
        assert index.candidates(conn, ["name-birth:li|1960-03-08"], exclude="self") == []

"""FHIR search through the router: parameter kinds, modifiers, prefixes, includes, sorting, paging."""

from __future__ import annotations

import pytest

from yilian.fhir.outcomes import FhirError

LOINC = "http://loinc.org"


def ids(response) -> list[str]:
    return [e["resource"]["id"] for e in response.resource()["entry"] if e["search"]["mode"] == "match"]


@pytest.fixture
def people(fhir):
    def make(family, given, birth, gender, city, phone, mrn):
        return fhir.post(
            "Patient",
            {
                "resourceType": "Patient",
                "identifier": [{"system": "urn:mrn", "value": mrn}],
                "name": [{"family": family, "given": [given]}],
                "gender": gender,
                "birthDate": birth,
                "telecom": [{"system": "phone", "value": phone}],
                "address": [{"city": city}],
            },
        ).resource()["id"]

    return {
        "zhang": make("张", "伟", "1958-02-01", "male", "杭州市", "13800000001", "M1"),
        "li": make("李", "娜", "1975-07-20", "female", "宁波市", "13800000002", "M2"),
        "muller": make("Müller", "Anna", "1990-12-31", "female", "Hangzhou", "13800000003", "M3"),
    }


def observation(patient_id, code, value, unit, when, encounter=None):
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}], "text": "血糖 glucose"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }
    if encounter:
        obs["encounter"] = {"reference": f"Encounter/{encounter}"}
    return obs


def test_string_search_is_prefix_and_accent_insensitive(fhir, people):
    assert ids(fhir.get("Patient?family=张")) == [people["zhang"]]
    assert ids(fhir.get("Patient?name=mull")) == [people["muller"]]
    assert ids(fhir.get("Patient?family:exact=müller")) == [people["muller"]]
    assert ids(fhir.get("Patient?name:contains=ll")) == [people["muller"]]
    assert ids(fhir.get("Patient?address-city=杭州")) == [people["zhang"]]


def test_token_date_and_or_and(fhir, people):
    assert ids(fhir.get("Patient?identifier=urn:mrn|M2")) == [people["li"]]
    assert ids(fhir.get("Patient?identifier=M2")) == [people["li"]]
    assert sorted(ids(fhir.get("Patient?identifier=M1,M2"))) == sorted([people["zhang"], people["li"]])
    assert ids(fhir.get("Patient?gender=female&birthdate=lt1980")) == [people["li"]]
    assert ids(fhir.get("Patient?birthdate=1958")) == [people["zhang"]]
    assert ids(fhir.get("Patient?birthdate=ge1990-12-31")) == [people["muller"]]
    assert sorted(ids(fhir.get("Patient?gender:not=male"))) == sorted([people["li"], people["muller"]])
    assert ids(fhir.get("Patient?phone=13800000003")) == [people["muller"]]


def test_reference_quantity_and_sort(fhir, people):
    p = people["zhang"]
    fhir.post("Observation", observation(p, "1558-6", 6.1, "mmol/L", "2024-03-01T08:00:00+08:00"))
    fhir.post("Observation", observation(p, "1558-6", 17.2, "mmol/L", "2024-05-01T08:00:00+08:00"))
    fhir.post("Observation", observation(people["li"], "1558-6", 5.0, "mmol/L", "2024-04-01"))
    found = fhir.get(f"Observation?patient={p}&code={LOINC}|1558-6&_sort=-date")
    values = [e["resource"]["valueQuantity"]["value"] for e in found.resource()["entry"]]
    assert values == [17.2, 6.1]
    high = fhir.get("Observation?value-quantity=ge16.7|http://unitsofmeasure.org|mmol/L")
    assert [e["resource"]["valueQuantity"]["value"] for e in high.resource()["entry"]] == [17.2]
    assert fhir.get(f"Observation?subject=Patient/{p}").resource()["total"] == 2
    assert fhir.get(f"Observation?subject:Patient={p}").resource()["total"] == 2
    assert fhir.get("Observation?date=2024-03-01").resource()["total"] == 1
    assert fhir.get("Observation?code:text=血糖").resource()["total"] == 3


def test_chained_search(fhir, people):
    fhir.post("Observation", observation(people["li"], "1558-6", 5.0, "mmol/L", "2024-04-01"))
    found = fhir.get("Observation?subject:Patient.name=李")
    assert found.resource()["total"] == 1


def test_include_and_revinclude(fhir, people):
    p = people["zhang"]
    obs = fhir.post("Observation", observation(p, "1558-6", 6.1, "mmol/L", "2024-03-01")).resource()
    with_patient = fhir.get("Observation?code=1558-6&_include=Observation:patient").resource()
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in with_patient["entry"]}
    assert modes == {("Observation", "match"), ("Patient", "include")}
    with_obs = fhir.get(f"Patient?_id={p}&_revinclude=Observation:subject").resource()
    assert {e["resource"]["id"] for e in with_obs["entry"]} == {p, obs["id"]}
    assert with_obs["total"] == 1  # includes are not counted


def test_paging_links_and_summary_count(fhir):
    for i in range(7):
        fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": f"王{i}"}]})
    first = fhir.get("Patient?_count=3&_sort=family").resource()
    assert first["total"] == 7
    assert [e["resource"]["name"][0]["family"] for e in first["entry"]] == ["王0", "王1", "王2"]
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = fhir.get(nxt.split("/fhir/", 1)[1]).resource()
    assert [e["resource"]["name"][0]["family"] for e in second["entry"]] == ["王3", "王4", "王5"]
    last = fhir.get("Patient?_count=3&_offset=6&_sort=family").resource()
    assert not any(link["relation"] == "next" for link in last["link"])
    counted = fhir.get("Patient?_summary=count").resource()
    assert counted == {"resourceType": "Bundle", "type": "searchset", "total": 7}


def test_last_updated_and_missing(fhir, people):
    assert fhir.get("Patient?_lastUpdated=gt2000-01-01").resource()["total"] == 3
    assert fhir.get("Patient?_lastUpdated=lt2000-01-01").resource()["total"] == 0
    fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": "无生日"}]})
    assert fhir.get("Patient?birthdate:missing=true").resource()["total"] == 1


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("Patient?patinet=1", "Unknown search parameter 'patinet'"),
        ("Patient?birthdate=yesterday", "not a valid date"),
        ("Patient?_count=-1", "must not be negative"),
        ("Patient?_sort=colour", "unknown parameter"),
        ("Observation?_include=Observation:code", "not a reference parameter"),
    ],
)
def test_bad_searches_are_400_with_a_reason(fhir, query, fragment):
    with pytest.raises(FhirError) as err:
        fhir.get(query)
    assert err.value.status == 400
    assert fragment in str(err.value)


def observation_about_group(fhir, group_id: str) -> None:  # noqa: ANN001 - the fhir fixture
    """A Group, and an Observation whose subject is that Group (not a Patient)."""
    fhir.put(f"Group/{group_id}", {"resourceType": "Group", "id": group_id, "type": "person", "actual": True})
    subject = {"reference": f"Group/{group_id}"}
    fhir.post(
        "Observation",
        {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": subject},
    )


def test_revinclude_matches_type_and_id_not_id_alone(fhir):
    fhir.put("Patient/same", {"resourceType": "Patient", "id": "same"})
    observation_about_group(fhir, "same")
    bundle = fhir.get("Patient?_id=same&_revinclude=Observation:subject").resource()
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]


@pytest.mark.parametrize("revinclude", ["Observation:*", "*"])
def test_revinclude_of_every_reference_parameter(fhir, people, revinclude):
    p = people["zhang"]
    obs = fhir.post("Observation", observation(p, "1558-6", 6.1, "mmol/L", "2024-03-01")).resource()
    observation_about_group(fhir, "other")
    bundle = fhir.get(f"Patient?_id={p}&_revinclude={revinclude}").resource()
    assert {e["resource"]["id"] for e in bundle["entry"]} == {p, obs["id"]}


def test_sort_by_tag_and_security_reads_the_labels_kept_in_columns(fhir):
    """The source-member tag and the GB/T 39725 labels live in columns, not index rows: sorting on
    `_tag` / `_security` must still see them (ascending by the smallest code, descending by the largest)."""
    from yilian.testing.plugin import caller

    made = {}
    for member in ("m-c", "m-a", "m-b"):
        body = {"resourceType": "Organization", "name": member}
        made[member] = fhir.as_(caller("member-system", member)).post("Organization", body).resource()["id"]
    assert ids(fhir.get("Organization?_sort=_tag")) == [made["m-a"], made["m-b"], made["m-c"]]
    assert ids(fhir.get("Organization?_sort=-_tag")) == [made["m-c"], made["m-b"], made["m-a"]]
    # a tag of its own (a row) counts beside the member's: "a-…" sorts before every "m-…"
    tagged = {"resourceType": "Organization", "name": "own", "meta": {"tag": [{"code": "a-own"}]}}
    own = fhir.as_(caller("member-system", "m-z")).post("Organization", tagged).resource()["id"]
    assert ids(fhir.get("Organization?_sort=_tag"))[0] == own
    assert ids(fhir.get("Organization?_sort=-_tag"))[0] == own  # m-z is the largest code too
    # a label of another system stays a row; the labeller's GB/T 39725 labels go to the columns
    reason = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "A-TEST"}
    with_row = fhir.post("Patient", {"resourceType": "Patient", "meta": {"security": [reason]}}).resource()
    columns_only = fhir.post("Patient", {"resourceType": "Patient"}).resource()
    codes = {s["code"] for s in columns_only["meta"]["security"]}
    assert codes and min(codes) > "A-TEST"  # ("L4", "PA", "R"): all after the row's code
    assert ids(fhir.get("Patient?_sort=_security")) == [with_row["id"], columns_only["id"]]
    assert ids(fhir.get("Patient?_sort=-_security,-_id")) == sorted(
        [with_row["id"], columns_only["id"]], reverse=True
    )  # both largest codes are the columns' "R": a tie, broken by id


def test_labels_of_resources_stored_before_the_labels_in_columns_flag_are_still_found(fhir, gate):
    """Resources stored before `labels_in_columns` existed say so with a marker row at every level;
    label searches, `:missing` and `_sort` read both ways. Here one is made to look like that."""
    from sqlalchemy import update

    from yilian.alliance.codes import CONFIDENTIALITY, GBT_LEVEL
    from yilian.store.search.derived import LABELS_MARKER
    from yilian.store.search.keys import param_key
    from yilian.store.tables import idx_token, resources

    made = [fhir.post("Patient", {"resourceType": "Patient", "name": [{"text": n}]}).resource() for n in "ab"]
    with gate.engine.begin() as conn:
        rid = conn.execute(
            update(resources)
            .where(resources.c.id == made[0]["id"])
            .values(labels_in_columns=False)
            .returning(resources.c.rid)
        ).scalar_one()
        marker = {"rid": rid, "param": param_key("Patient", LABELS_MARKER), "system": "", "value": "L4"}
        conn.execute(idx_token.insert().values(**marker))
    both = sorted(p["id"] for p in made)
    assert sorted(ids(fhir.get(f"Patient?_security={GBT_LEVEL}|L4"))) == both
    assert sorted(ids(fhir.get(f"Patient?_security={CONFIDENTIALITY}|R"))) == both
    assert ids(fhir.get(f"Patient?_security={GBT_LEVEL}|L5")) == []
    assert sorted(ids(fhir.get("Patient?_security:missing=false"))) == both
    assert ids(fhir.get("Patient?_security:missing=true")) == []
    assert sorted(ids(fhir.get("Patient?_sort=_security"))) == both


def test_the_codes_a_sort_reads_from_columns_are_the_labels_each_resource_carries(fhir, gate):
    """What `_sort=_security` / `_tag` reads from the columns must be exactly the codes meta holds, for
    each level the labeller gives (1–2 the directory, 4 a record; 'L' is the confidentiality of the low)."""
    from sqlalchemy import select

    from yilian.alliance.codes import SOURCE_MEMBER
    from yilian.store.search.derived import LABEL_SYSTEMS, column_values
    from yilian.store.tables import resources
    from yilian.testing.plugin import caller

    his = fhir.as_(caller("member-system", "m-a"))
    made = [
        his.post("Organization", {"resourceType": "Organization", "name": "甲"}).resource(),
        his.post("Practitioner", {"resourceType": "Practitioner", "name": [{"text": "乙"}]}).resource(),
        his.post("Patient", {"resourceType": "Patient"}).resource(),
    ]
    levels = set()
    with gate.engine.connect() as conn:
        for r in made:
            rtype = r["resourceType"]
            row = conn.execute(
                select(*column_values(rtype, "_security"), *column_values(rtype, "_tag")).where(
                    resources.c.id == r["id"]
                )
            ).one()
            labels = {s["code"] for s in r["meta"]["security"] if s["system"] in LABEL_SYSTEMS}
            tags = {t["code"] for t in r["meta"]["tag"] if t["system"] == SOURCE_MEMBER}
            assert {v for v in row[:-1] if v is not None} == labels, rtype
            assert {row[-1]} == tags
            levels |= {c for c in labels if c[:1] == "L" and c[1:].isdigit()}
    assert len(levels) >= 2  # more than one level was checked

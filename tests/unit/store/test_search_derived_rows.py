"""Which index rows the store leaves out (store/search/derived.py): only those other rows or the resource's
columns answer exactly; anything the columns could not reproduce keeps its row."""

from __future__ import annotations

import tarfile

import orjson

from yilian.alliance.codes import ACT_CODE, CONFIDENTIALITY, GBT_CATEGORY, GBT_LEVEL, SOURCE_MEMBER
from yilian.gate.labels import label
from yilian.store.rows import label_columns, prepare
from yilian.store.search import extract as extract_module
from yilian.store.search.derived import LABELS_MARKER, column_labels, drop_covered
from yilian.store.search.extract import extract
from yilian.store.search.keys import param_key
from yilian.testing.plugin import SHARED_DATA

GATE_LABELS = [
    {"system": GBT_CATEGORY, "code": "MA"},
    {"system": GBT_LEVEL, "code": "L4"},
    {"system": CONFIDENTIALITY, "code": "R"},
]


def tokens_after(security: list, member: str | None = "m-a", tags: list | None = None) -> list:
    tokens = [("_security", s["system"], s["code"]) for s in security]
    tokens += [("_tag", t["system"], t["code"]) for t in tags or []]
    tokens.append(("status", None, "final"))
    column_labels(tokens, member, security)
    return tokens


def test_gate_labels_and_the_member_tag_become_one_marker_row():
    tags = [{"system": SOURCE_MEMBER, "code": "m-a"}, {"system": "http://other", "code": "x"}]
    level5 = [GATE_LABELS[0], {"system": GBT_LEVEL, "code": "L5"}, {"system": CONFIDENTIALITY, "code": "V"}]
    kept = tokens_after([*level5, {"system": ACT_CODE, "code": "HIV"}], tags=tags)
    assert sorted(kept, key=str) == sorted(
        [("_tag", "http://other", "x"), ("status", None, "final"), (LABELS_MARKER, None, "L5")], key=str
    )


def test_labels_the_columns_cannot_reproduce_keep_every_row():
    odd = [
        [GATE_LABELS[0], GATE_LABELS[1]],  # no confidentiality: a search for R must not find it
        [GATE_LABELS[0], {"system": GBT_LEVEL, "code": "L04"}, GATE_LABELS[2]],  # not the canonical code
        [GATE_LABELS[0], GATE_LABELS[1], {"system": CONFIDENTIALITY, "code": "V"}],  # V is not level 4's
        [*GATE_LABELS, {"system": GBT_CATEGORY, "code": "HS"}],  # two categories, one column
        [{"system": GBT_CATEGORY, "code": "MAXXX"}, GATE_LABELS[1], GATE_LABELS[2]],  # longer than the column
        [*GATE_LABELS, {"system": ACT_CODE, "code": "A" * 17}],  # longer than the column
        [*GATE_LABELS, {"system": ACT_CODE, "code": "HIV"}],  # a sensitivity class below level 5
    ]
    for security in odd:
        kept = tokens_after(security, member=None)
        assert [t for t in kept if t[0] == "_security"] == [
            ("_security", s["system"], s["code"]) for s in security
        ]
        assert not [t for t in kept if t[0] == LABELS_MARKER]
        assert column_labels(list(kept), None, security) is None


def test_labels_the_gate_writes_always_go_to_the_columns_with_a_marker_only_off_level_4():
    """Level 4 (nearly every record) needs no row at all; the few of other levels keep a marker row so a
    search for them stays an index probe."""
    for resource, marker in (
        (
            {
                "resourceType": "Observation",
                "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]},
            },
            [],
        ),
        (
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B20"}]},
            },
            [(LABELS_MARKER, None, "L5")],
        ),
        ({"resourceType": "Organization"}, [(LABELS_MARKER, None, "L1")]),
    ):
        label(resource)
        tokens = [("_security", s["system"], s["code"]) for s in resource["meta"]["security"]]
        columns = column_labels(tokens, "m-a", resource["meta"]["security"])
        assert columns is not None and columns == label_columns(resource)
        assert [t for t in tokens if t[0] == "_security"] == [], resource["resourceType"]
        assert [t for t in tokens if t[0] == LABELS_MARKER] == marker, resource["resourceType"]


def test_a_tag_of_another_member_than_the_column_keeps_its_row():
    tags = [{"system": SOURCE_MEMBER, "code": "m-b"}]
    assert ("_tag", SOURCE_MEMBER, "m-b") in tokens_after(GATE_LABELS, member="m-a", tags=tags)
    assert ("_tag", SOURCE_MEMBER, "m-b") in tokens_after(GATE_LABELS, member=None, tags=tags)


def test_combo_rows_keep_only_what_code_and_value_quantity_lack():
    strings = [("code:text", "glucose"), ("combo-code:text", "glucose"), ("combo-code:text", "systolic")]
    tokens = [("code", "http://loinc.org", "1-8"), ("combo-code", "http://loinc.org", "1-8")]
    tokens.append(("combo-code", "http://loinc.org", "8480-6"))
    quantities = [("value-quantity", 5.0, "http://unitsofmeasure.org", "mmol/L")]
    quantities += [("combo-value-quantity", 5.0, "http://unitsofmeasure.org", "mmol/L")]
    quantities += [("combo-value-quantity", 120.0, "http://unitsofmeasure.org", "mm[Hg]")]
    references = [("subject", "Patient", "p1"), ("patient", "Patient", "p1"), ("subject", "Group", "g1")]
    drop_covered("Observation", strings, tokens, quantities, references)
    assert strings == [("code:text", "glucose"), ("combo-code:text", "systolic")]
    assert tokens == [("code", "http://loinc.org", "1-8"), ("combo-code", "http://loinc.org", "8480-6")]
    assert [q[0] for q in quantities] == ["value-quantity", "combo-value-quantity"]
    assert references == [("patient", "Patient", "p1"), ("subject", "Group", "g1")]  # a Group is no patient
    other = [("combo-code", "s", "v"), ("code", "s", "v")]
    drop_covered("Condition", [], other, [], [])  # only Observation defines combo-*: nothing dropped
    assert len(other) == 2


def test_prepared_rows_and_columns_of_a_labelled_observation():
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1-8"}]},
        "valueQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    }
    label(obs)
    p = prepare(obs, rid=0, rid_id="o1", version=1, now=0.0, member="m-a")
    assert p.member == "m-a" and p.labels == (*label_columns(obs), True)  # in columns, no row for them
    params = {row[0] for rows in p.index.values() for row in rows}
    obs["subject"] = {"reference": "Patient/p1"}
    p = prepare(obs, rid=0, rid_id="o1", version=1, now=0.0, member="m-a")
    params = {row[0] for rows in p.index.values() for row in rows}
    for gone in ("_tag", "_security", "combo-code", "combo-code:text", "combo-value-quantity", "subject"):
        assert param_key("Observation", gone) not in params, gone
    for gone in (LABELS_MARKER,):  # level 4: the resource row's labels_in_columns says it all
        assert param_key("Observation", gone) not in params, gone
    for kept in ("code", "value-quantity", "patient"):
        assert param_key("Observation", kept) in params, kept


def _kept_rows(resources: list[dict]) -> list[tuple]:
    """Each resource's rows as the store keeps them: extracted, then the covered rows left out."""
    out = []
    for resource in resources:
        found = extract(resource)
        drop_covered(
            resource["resourceType"], found.strings, found.tokens, found.quantities, found.references
        )
        out.append(
            tuple(sorted(map(repr, [*found.strings, *found.tokens, *found.quantities, *found.references])))
        )
    return out


def test_extraction_leaves_out_only_the_rows_the_store_would_drop(monkeypatch):
    """A covered parameter sharing a route with its covering one (combo-code and code: Observation.code) is
    not extracted there, nor `subject` to the type `patient` takes from the same path; the rows kept are
    exactly those kept when every row was extracted, then dropped."""
    concept = {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure"}]}
    component = {
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "Systolic"},
        "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org"},
    }
    same_as_code = {"code": concept, "valueQuantity": {"value": 5, "unit": "mmol/L"}}
    resources = [
        {
            "resourceType": "Observation",
            "status": "final",
            "code": concept,
            "subject": {"reference": "Patient/p"},
            "valueQuantity": {"value": 5, "unit": "mmol/L"},
            "component": [component, same_as_code],
        },
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "note"},
            "subject": {"reference": "Group/g"},
        },
        {"resourceType": "Condition", "code": concept, "subject": {"reference": "Patient/p"}},
    ]
    examples = shared_examples()
    kept = _kept_rows(resources + examples)
    combo = [r for r in extract(resources[0]).tokens if r[0] == "combo-code"]
    assert combo == [
        ("combo-code", "http://loinc.org", "8480-6"),
        ("combo-code", "http://loinc.org", "85354-9"),
    ]
    subject = [r for r in extract(resources[0]).references if r[0] in ("subject", "patient")]
    assert subject == [("patient", "Patient", "p")]
    assert [r for r in extract(resources[1]).references if r[0] == "subject"] == [("subject", "Group", "g")]
    assert [r[0] for r in extract(resources[2]).references] == ["patient"]
    monkeypatch.setattr(extract_module, "covered_params", lambda rtype: {})
    monkeypatch.setattr(extract_module, "_plans", {})  # compiled again, every route for every parameter
    assert [r[0] for r in extract(resources[0]).tokens].count("combo-code") == 3
    assert ("subject", "Patient", "p") in extract(resources[0]).references
    assert _kept_rows(resources + examples) == kept


def shared_examples() -> list[dict]:
    """The official R4 Observation examples when ../shared/data is here (none otherwise)."""
    path = SHARED_DATA / "fhir-r4-spec/examples-r4-clinical-711.tar.gz"
    if not path.exists():
        return []
    out = []
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                resource = orjson.loads(tar.extractfile(member).read())
                if resource.get("resourceType") in ("Observation", "DiagnosticReport", "Condition"):
                    out.append(resource)
    return out

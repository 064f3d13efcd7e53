"""Rows the store leaves out (store/search/derived.py) change no search result, on the official examples.

`_tag` / `_security`: every search finds exactly the resources whose meta holds the value, computed here
from the resources themselves (as every row would have been written before). Observation combo-*: a
search finds exactly the union of its parts' searches (code ∪ component-code, and so on), whose rows are
all still written.
"""

from __future__ import annotations

import tarfile
from urllib.parse import quote

import orjson
import pytest

from yilian.alliance.codes import CONFIDENTIALITY, GBT_CATEGORY, GBT_LEVEL, SOURCE_MEMBER
from yilian.store.search import extract as extract_module
from yilian.store.search.extract import extract
from yilian.testing.plugin import shared_data

SUBJECT = {"reference": "Patient/example"}
TYPES = ("Observation", "Patient", "Condition", "Encounter", "DiagnosticReport", "Procedure")


def examples(types: tuple[str, ...]) -> list[dict]:
    """The official R4 examples of these types that have an id."""
    out = []
    with tarfile.open(shared_data("fhir-r4-spec/examples-r4-clinical-711.tar.gz")) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json") and not member.name.endswith("package.json"):
                resource = orjson.loads(tar.extractfile(member).read())
                if resource.get("resourceType") in types and resource.get("id"):
                    out.append(resource)
    return out


@pytest.fixture
def stored(fhir) -> dict[str, dict[str, dict]]:
    """The examples of TYPES stored, as read back: type -> id -> resource."""
    for resource in examples(TYPES):
        fhir.put(f"{resource['resourceType']}/{resource['id']}", resource)
    hiv = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B20.1"}]}
    fhir.put("Condition/hiv", {"resourceType": "Condition", "id": "hiv", "code": hiv, "subject": SUBJECT})
    other_label = {
        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HTEST"}]
    }
    fhir.put(
        "Condition/htest",
        {"resourceType": "Condition", "id": "htest", "meta": other_label, "code": hiv, "subject": SUBJECT},
    )
    out: dict[str, dict[str, dict]] = {}
    for rtype in TYPES:
        found = found_ids_and_resources(fhir, f"{rtype}?_count=2000")
        out[rtype] = found
    assert {"hiv", "htest"} <= set(out["Condition"])  # a level-5 class and a label of another system
    return out


def found_ids_and_resources(fhir, url: str) -> dict[str, dict]:  # noqa: ANN001
    bundle = fhir.get(url).resource()
    assert not any(link["relation"] == "next" for link in bundle.get("link", ())), url
    entries = [e for e in bundle.get("entry", ()) if e["search"]["mode"] == "match"]
    return {e["resource"]["id"]: e["resource"] for e in entries}


def found(fhir, rtype: str, query: str) -> set[str]:  # noqa: ANN001
    return set(found_ids_and_resources(fhir, f"{rtype}?{query}&_count=2000"))


def meta_tokens(resource: dict, code: str) -> set[tuple[str, str]]:
    return {(s or "", v) for c, s, v in extract(resource).tokens if c == code}


@pytest.mark.shared_data
def test_tag_and_security_searches_find_exactly_the_resources_holding_the_value(fhir, stored):
    searched = 0
    for rtype, by_id in stored.items():
        assert by_id, rtype
        for code in ("_tag", "_security"):
            held = {rid: meta_tokens(r, code) for rid, r in by_id.items()}
            values = {v for tokens in held.values() for v in tokens}
            systems = {s for s, _ in values}
            queries = {f"{s}|{v}": (lambda t, s=s, v=v: (s, v) in t) for s, v in values}
            queries |= {v: (lambda t, v=v: any(x == v for _, x in t)) for _, v in values}
            queries |= {f"{s}|": (lambda t, s=s: any(x == s for x, _ in t)) for s in systems if s}
            for query, holds in queries.items():
                expected = {rid for rid, tokens in held.items() if holds(tokens)}
                assert found(fhir, rtype, f"{code}={quote(query)}") == expected, (rtype, code, query)
                not_expected = set(by_id) - expected
                assert found(fhir, rtype, f"{code}:not={quote(query)}") == not_expected, (rtype, code, query)
                searched += 1
            with_any = {rid for rid, tokens in held.items() if tokens}
            assert found(fhir, rtype, f"{code}:missing=false") == with_any, (rtype, code)
            assert found(fhir, rtype, f"{code}:missing=true") == set(by_id) - with_any, (rtype, code)
    assert searched > 50


@pytest.mark.shared_data
def test_label_searches_that_no_resource_holds_find_nothing(fhir, stored, backend):
    if backend == "postgres":
        pytest.skip("once on SQLite")
    for query in (
        f"{GBT_LEVEL}|L9",
        f"{GBT_LEVEL}|L04",
        f"{GBT_CATEGORY}|MAXX",
        f"{CONFIDENTIALITY}|N",
        f"|{SOURCE_MEMBER}",
        "http://example.org/other|R",
    ):
        for code in ("_security", "_tag"):
            assert found(fhir, "Observation", f"{code}={quote(query)}") == set(), (code, query)


@pytest.mark.shared_data
def test_combo_searches_find_exactly_the_union_of_their_parts(fhir, stored, backend):
    if backend == "postgres":
        pytest.skip("once on SQLite")
    observations = stored["Observation"]
    tokens = [t for r in observations.values() for t in extract(r).tokens]
    # The values a combo search can be asked for are its parts' (extraction leaves out the combo rows
    # that only repeat `code`'s, search/extract.py).
    codes = {(s or "", v) for c, s, v in tokens if c in ("code", "component-code")}
    assert len(codes) > 20
    for system, value in codes:
        for query in (f"{system}|{value}", value):
            combo = found(fhir, "Observation", f"combo-code={quote(query)}")
            parts = found(fhir, "Observation", f"code={quote(query)}")
            parts |= found(fhir, "Observation", f"component-code={quote(query)}")
            assert combo == parts and combo, query
    texts = {
        v
        for r in observations.values()
        for c, v in extract(r).strings
        if c in ("code:text", "component-code:text")
    }
    for text in sorted(texts)[:60]:
        combo = found(fhir, "Observation", f"combo-code:text={quote(text)}")
        parts = found(fhir, "Observation", f"code:text={quote(text)}")
        parts |= found(fhir, "Observation", f"component-code:text={quote(text)}")
        assert combo == parts and combo, text
    quantities = {
        (v, s or "", u or "")
        for r in observations.values()
        for c, v, s, u in extract(r).quantities
        if c in ("value-quantity", "component-value-quantity")
    }
    assert len(quantities) > 10
    for number, system, unit in quantities:
        query = quote(f"{number:g}|{system}|{unit}")
        combo = found(fhir, "Observation", f"combo-value-quantity={query}")
        parts = found(fhir, "Observation", f"value-quantity={query}")
        parts |= found(fhir, "Observation", f"component-value-quantity={query}")
        assert combo == parts and combo, query
    missing = found(fhir, "Observation", "combo-code:missing=true")
    assert missing == found(fhir, "Observation", "code:missing=true") & found(
        fhir, "Observation", "component-code:missing=true"
    )


@pytest.mark.shared_data
def test_subject_searches_includes_and_chains_find_what_every_row_would(fhir, stored, backend, monkeypatch):
    if backend == "postgres":
        pytest.skip("once on SQLite")
    # What every row would be: extraction compiled as if no parameter were covered (it leaves out the
    # `subject` rows `patient` holds), used below only to compute the expected results.
    monkeypatch.setattr(extract_module, "covered_params", lambda rtype: {})
    monkeypatch.setattr(extract_module, "_plans", {})
    searched = 0
    for rtype, by_id in stored.items():
        if rtype == "Patient":  # no subject
            continue
        held = {
            rid: {(t, i) for c, t, i in extract(r).references if c == "subject"} for rid, r in by_id.items()
        }
        for target_type, target_id in {ref for refs in held.values() for ref in refs}:
            expected = {rid for rid, refs in held.items() if (target_type, target_id) in refs}
            assert found(fhir, rtype, f"subject={target_type}/{target_id}") == expected, (rtype, target_id)
            searched += 1
        with_subject = {rid for rid, refs in held.items() if refs}
        assert found(fhir, rtype, "subject:missing=false") == with_subject, rtype
    assert searched > 20
    # The patient example's Observations through a chain, an _include and a _revinclude.
    observations = stored["Observation"].items()
    theirs = {rid for rid, r in observations if ("subject", "Patient", "example") in extract(r).references}
    assert theirs and found(fhir, "Observation", "subject:Patient.gender=male") >= theirs
    bundle = fhir.get("Patient?_id=example&_revinclude=Observation:subject&_count=2000").resource()
    assert {
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    } == theirs
    ids = ",".join(sorted(theirs))
    bundle = fhir.get(f"Observation?_id={ids}&_include=Observation:subject").resource()
    assert [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"] == ["example"]

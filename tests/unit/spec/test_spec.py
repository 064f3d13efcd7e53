"""The shipped FHIR definitions: reduced to what the code reads, reproducible from the official bundles,
and built once with the collector paused."""

from __future__ import annotations

import gc
import gzip

import orjson
import pytest

from yilian import spec
from yilian.testing.plugin import shared_data


def _every_resource() -> list[dict]:
    return [r for name in spec.BUNDLES for r in spec.load(name)]


def test_shipped_definitions_keep_only_what_the_code_reads() -> None:
    resources = _every_resource()
    kinds = {r["resourceType"] for r in resources}
    assert kinds == {"StructureDefinition", "SearchParameter", "CompartmentDefinition"}
    for r in resources:
        assert set(r) <= set(spec.KEPT[r["resourceType"]]), r.get("id")
        for el in r.get("snapshot", {}).get("element", ()):
            assert set(el) <= set(spec.KEPT["element"]), el["path"]
            for t in el.get("type", ()):
                assert set(t) <= set(spec.KEPT["type"]), el["path"]
    assert [r["id"] for r in resources if r["resourceType"] == "CompartmentDefinition"] == ["patient"]


def test_shipped_definitions_hold_what_the_validator_and_extractors_need() -> None:
    resources = _every_resource()
    sds = {r["id"]: r for r in resources if r["resourceType"] == "StructureDefinition"}
    assert {"Patient", "Observation", "HumanName", "dateTime", "Bundle"} <= set(sds)
    elements = {el["path"]: el for el in sds["Observation"]["snapshot"]["element"]}
    assert [t["code"] for t in elements["Observation.value[x]"]["type"]][:3] == [
        "Quantity",
        "CodeableConcept",
        "string",
    ]
    assert (elements["Observation.status"]["min"], elements["Observation.status"]["max"]) == (1, "1")
    assert (
        elements["Observation.component.referenceRange"]["contentReference"] == "#Observation.referenceRange"
    )
    params = {
        (b, r["code"]): r for r in resources if r["resourceType"] == "SearchParameter" for b in r["base"]
    }
    assert params[("Observation", "code")]["expression"].startswith("AllergyIntolerance.code")
    assert params[("Observation", "subject")]["target"]


@pytest.mark.shared_data
def test_shipped_definitions_are_the_official_ones_slimmed(tmp_path) -> None:  # noqa: ANN001
    official = shared_data("fhir-r4-spec/profiles-resources.json.gz").parent
    spec.write_slim(official, tmp_path)
    for name in spec.BUNDLES:
        rebuilt = (tmp_path / name).read_bytes()
        assert rebuilt == (spec.SPEC_DIR / name).read_bytes(), f"{name}: run python -m yilian.spec {official}"
        whole = orjson.loads(gzip.decompress((official / name).read_bytes()))
        kept = [e for e in whole["entry"] if spec._slim_resource(e["resource"]) is not None]
        assert len(spec.load(name)) == len(kept)


def test_built_once_builds_once_with_the_collector_paused() -> None:
    seen = []

    @spec.built_once
    def table() -> dict:
        seen.append(gc.isenabled())
        return {"built": len(seen)}

    assert gc.isenabled()
    assert table() is table()
    assert seen == [False]  # built once, collector paused meanwhile
    assert gc.isenabled()  # and running again after


def test_built_once_restores_the_collector_when_the_build_fails() -> None:
    @spec.built_once
    def broken() -> dict:
        raise ValueError("bad definitions")

    with pytest.raises(ValueError):
        broken()
    assert gc.isenabled()

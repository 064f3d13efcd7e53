"""Sensitive classes of codings (yilian.gate.labels): the rules looked up by system give the class the rules
list first among those a coding matches, for the first coding (in document order) that matches any."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

from yilian.gate.labels import Rules, _sensitive_class, classify, label, rules

ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"


def slow_class(value: object, r: Rules) -> str | None:
    """The rules applied literally: every class's matchers against every coding."""
    for system, code in _codings(value):
        for name, matchers in r.classes.items():
            if any(
                system == s and (code.startswith(c[:-1]) if c.endswith("*") else code == c)
                for s, c in matchers
            ):
                return name
    return None


def _codings(value: object) -> Iterator[tuple[object, str]]:
    if isinstance(value, list):
        for item in value:
            yield from _codings(item)
    elif isinstance(value, dict):
        if "code" in value and "system" in value and isinstance(value["code"], str):
            yield value["system"], value["code"]
        for key in ("coding", "condition", "code"):
            inner = value.get(key)
            if isinstance(inner, list | dict):
                yield from _codings(inner)


def overlapping_rules() -> Rules:
    """Classes that share codes and prefixes, so the order of the rules decides."""
    return Rules(
        types={"Condition": ("HS", 4), "Encounter": ("MA", 4)},
        default=("MA", 4),
        primary={"Condition": ("code",)},
        secondary=("reasonCode", "diagnosis"),
        classes={
            "AAA": [(ICD10, "F2*"), (SNOMED, "111")],
            "BBB": [(ICD10, "F20*"), (ICD10, "B20"), (SNOMED, "111"), (SNOMED, "22*")],
            "CCC": [(ICD10, "*"), (SNOMED, "222")],
        },
    )


def test_by_system_keeps_the_order_of_the_classes():
    by_system = overlapping_rules().by_system
    assert [name for name, _, _ in by_system[ICD10]] == ["AAA", "BBB", "CCC"]
    assert [name for name, _, _ in by_system[SNOMED]] == ["AAA", "BBB", "CCC"]
    assert by_system[ICD10][1][1:] == (frozenset({"B20"}), ("F20",))


def test_the_first_matching_coding_and_class_win():
    r = overlapping_rules()
    concept = {
        "coding": [
            {"system": "x", "code": "F20"},
            {"system": SNOMED, "code": "222"},
            {"system": ICD10, "code": "F20"},
        ]
    }
    assert classify({"resourceType": "Condition", "code": concept}, r).sensitivity == "BBB"  # 222 by 22*
    f25 = {"system": ICD10, "code": "F25"}  # AAA's F2* and CCC's *
    assert classify({"resourceType": "Condition", "code": f25}, r).sensitivity == "AAA"


def test_classification_matches_the_rules_applied_literally():
    rng = random.Random(7)
    systems = [ICD10, SNOMED, "http://loinc.org", "other", None, 5, ["x"]]
    codes = ["F20", "F2", "F201", "B20", "B2", "111", "222", "2", "", "Z21.0", "86406008", "7917-8", 5, None]
    for r in (overlapping_rules(), rules()):
        for _ in range(3000):
            codings = [
                {"system": rng.choice(systems), "code": rng.choice(codes)} for _ in range(rng.randrange(0, 4))
            ]
            value = rng.choice(
                [
                    {"coding": codings, "text": "t"},
                    codings,
                    {"condition": [{"code": {"coding": codings}}], "code": codings[0] if codings else "x"},
                    codings[0] if codings else None,
                    [{"code": {"coding": codings}}],
                ]
            )
            assert _sensitive_class(value, r) == slow_class(value, r), value


def test_labels_are_shared_and_written_as_before():
    first = label({"resourceType": "Observation", "code": {"text": "x"}})
    assert first is label({"resourceType": "Observation", "status": "final"})
    resource = {
        "resourceType": "Encounter",
        "meta": {"security": [{"system": "http://other", "code": "k"}]},
        "reasonCode": [{"coding": [{"system": ICD10, "code": "B20.1"}]}],
    }
    labels = label(resource)
    assert (labels.level, labels.sensitivity, labels.redact) == (4, None, ("reasonCode",))
    assert [s["code"] for s in resource["meta"]["security"]] == ["k", "MA", "L4", "R", "reasonCode"]


def test_every_pair_of_a_small_rule_set():
    r = overlapping_rules()
    for system, code in itertools.product([ICD10, SNOMED, "x"], ["F20", "F2", "111", "222", "B20", "B201"]):
        coding = {"system": system, "code": code}
        assert _sensitive_class(coding, r) == slow_class(coding, r)

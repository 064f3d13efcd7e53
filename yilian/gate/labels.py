"""GB/T 39725-2020 data categories and levels, written into each resource's meta.security on write.

Rules (a TOML file, `YILIAN_LABEL_RULES`, or the defaults below) give every resource type a category
(PA, HS, MA, MP, HR, PH) and level (1-5), and list sensitive classes (HIV, STD, severe mental disorder,
genetic: level 5) by code. A resource whose own code is sensitive is level 5 as a whole; a resource that
only mentions a sensitive code in a secondary element (an Encounter's reason, a report's conclusion)
keeps its level, and those elements are marked so that readers without the right are served the
resource with them redacted.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from yilian.alliance.codes import (
    ACT_CODE,
    CONFIDENTIALITY,
    CONFIDENTIALITY_OF_LEVEL,
    GBT_CATEGORY,
    GBT_LEVEL,
    SENSITIVE_ELEMENT,
)

OWNED_SYSTEMS = (GBT_LEVEL, GBT_CATEGORY, SENSITIVE_ELEMENT, ACT_CODE, CONFIDENTIALITY)

DEFAULT_RULES = Path(__file__).with_name("label_rules.toml")


@dataclass(frozen=True)
class Labels:
    category: str
    level: int
    sensitivity: str | None  # HIV, STD, PSY, GDIS: the class a consent must name for level 5
    redact: tuple[str, ...]  # top-level elements holding sensitive codes in a lower-level resource


@dataclass(frozen=True)
class Rules:
    types: dict[str, tuple[str, int]]  # resource type -> (category, level)
    default: tuple[str, int]
    primary: dict[str, tuple[str, ...]]  # resource type -> elements whose codes make it level 5
    secondary: tuple[str, ...]  # elements of any type whose sensitive codes are redacted
    classes: dict[str, list[tuple[str, str]]]  # class -> [(system, code or prefix*)]
    # `classes` by system, for classifying a coding with one lookup: system -> ((class, codes, prefixes),
    # ...) in the order of `classes` (a coding belongs to the first class it matches).
    by_system: dict[str, tuple[tuple[str, frozenset[str], tuple[str, ...]], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_system", _by_system(self.classes))

    def redaction_elements(self) -> tuple[str, ...]:
        return self.secondary


@cache
def rules(path: str | None = None) -> Rules:
    """The label rules: `path`, else the file YILIAN_LABEL_RULES names (Settings.label_rules), else ours."""
    path = path or os.environ.get("YILIAN_LABEL_RULES") or str(DEFAULT_RULES)
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    types = {
        t: (c, int(lv)) for c, spec in data["categories"].items() for lv, names in spec.items() for t in names
    }
    classes = {
        name: [(m["system"], m["code"]) for m in matchers] for name, matchers in data["classes"].items()
    }
    return Rules(
        types,
        (data["default"]["category"], int(data["default"]["level"])),
        {k: tuple(v) for k, v in data["primary"].items()},
        tuple(data["redaction"]["elements"]),
        classes,
    )


def type_level(rtype: str) -> int:
    """The level every resource of this type has at least (a sensitive code only raises it)."""
    r = rules()
    return r.types.get(rtype, r.default)[1]


def classify(resource: dict, rule_set: Rules | None = None) -> Labels:
    r = rule_set or rules()
    rtype = resource.get("resourceType", "")
    category, level = r.types.get(rtype, r.default)
    sensitivity = None
    for key in r.primary.get(rtype, ()):
        sensitivity = sensitivity or _sensitive_class(resource.get(key), r)
    if sensitivity:
        return _labels(category, 5, sensitivity, ())
    redact = tuple(k for k in r.secondary if k in resource and _sensitive_class(resource[k], r))
    return _labels(category, level, None, redact)


_labels = cache(Labels)  # immutable and few: one of each, not one per resource


def label(resource: dict, rule_set: Rules | None = None) -> Labels:
    """Classify a resource and write the labels into meta.security (replacing any a client sent)."""
    labels = classify(resource, rule_set)
    meta = resource.setdefault("meta", {})
    kept = [s for s in meta.get("security", []) if s.get("system") not in OWNED_SYSTEMS]
    kept += [
        {"system": GBT_CATEGORY, "code": labels.category},
        {"system": GBT_LEVEL, "code": f"L{labels.level}"},
        {"system": CONFIDENTIALITY, "code": CONFIDENTIALITY_OF_LEVEL.get(labels.level, "L")},
    ]
    if labels.sensitivity:
        kept.append({"system": ACT_CODE, "code": labels.sensitivity})
    kept += [{"system": SENSITIVE_ELEMENT, "code": key} for key in labels.redact]
    meta["security"] = kept
    return labels


def _by_system(classes: dict[str, list[tuple[str, str]]]) -> dict:
    out: dict[str, list] = {}
    for system in dict.fromkeys(s for matchers in classes.values() for s, _ in matchers):
        for name, matchers in classes.items():
            patterns = [c for s, c in matchers if s == system]
            if patterns:
                codes = frozenset(c for c in patterns if not c.endswith("*"))
                prefixes = tuple(c[:-1] for c in patterns if c.endswith("*"))
                out.setdefault(system, []).append((name, codes, prefixes))
    return {system: tuple(matchers) for system, matchers in out.items()}


def _sensitive_class(value: object, r: Rules) -> str | None:
    """The class of the first sensitive (system, code) in a CodeableConcept, Coding, or lists and nests
    of them (a Coding first, then what its coding, condition and code hold)."""
    if isinstance(value, list):
        for item in value:
            found = _sensitive_class(item, r)
            if found is not None:
                return found
        return None
    if not isinstance(value, dict):
        return None
    code = value.get("code")
    if isinstance(code, str):
        system = value.get("system")
        if isinstance(system, str):
            for name, codes, prefixes in r.by_system.get(system, ()):
                if code in codes or code.startswith(prefixes):
                    return name
    for key in ("coding", "condition", "code"):
        inner = value.get(key)
        if inner is not None and isinstance(inner, _NESTS):
            found = _sensitive_class(inner, r)
            if found is not None:
                return found
    return None


_NESTS = (list, dict)  # built once: `list | dict` in the loop would build a union per test

"""Timeline entries and their builders: one function per resource type turns a resource into an Entry.

Builders are pure: a resource dict and the Bundle's other resources (to resolve references such as a
clinician's name or a report's results) in, an Entry out. Labels are i18n keys and titles are code-system
displays as stored, so nothing here depends on the UI language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from yilian.web.display import coding_code, concept_text, human_name, quantity_text, source_member

KINDS = (
    "encounter",
    "condition",
    "observation",
    "report",
    "imaging",
    "medication",
    "allergy",
    "immunization",
    "procedure",
    "careplan",
)
Refs = dict[str, dict]  # "Type/id" -> resource, for resolving references inside the Bundle


@dataclass(frozen=True)
class Result:
    """One measured value: a lab result or a blood-pressure component."""

    label: str
    value: str
    unit: str = ""
    flag: str | None = None  # H, L, HH, LL, A... (v3 ObservationInterpretation)
    range: str = ""


@dataclass(frozen=True)
class Entry:
    ref: str  # "Type/id"
    kind: str  # one of KINDS
    when: str  # FHIR date or dateTime as stored; sorts chronologically within one time zone
    title: str
    member: str | None = None  # the source member's Organization id
    status: str | None = None
    text: str = ""  # free text: a conclusion, a dosage instruction, a plan's description
    facts: tuple[tuple[str, str], ...] = ()  # (i18n label key, value)
    results: tuple[Result, ...] = ()

    @property
    def day(self) -> str:
        return self.when[:10]

    @property
    def time(self) -> str:
        return self.when[11:16] if len(self.when) > 10 else ""

    @property
    def flagged(self) -> bool:
        return any(r.flag for r in self.results)


def ref_key(reference: dict | None) -> str | None:
    """ "Type/id" of a Reference (relative or absolute URL), or None for contained or logical ones."""
    target = (reference or {}).get("reference", "")
    parts = [p for p in target.split("/") if p]
    if len(parts) >= 2 and not target.startswith("#"):
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        return f"{parts[-2]}/{parts[-1]}"
    return None


def index(resources: Iterable[dict]) -> Refs:
    return {f"{r['resourceType']}/{r.get('id')}": r for r in resources}


def _first(*values: str | None) -> str:
    return next((v for v in values if v), "")


def _who(reference: dict | None, refs: Refs) -> str:
    """The display of a reference to a person: the reference's own display, else the resolved name."""
    if not reference:
        return ""
    if reference.get("display"):
        return reference["display"]
    target = refs.get(ref_key(reference) or "")
    if not target:
        return ""
    if target.get("resourceType") == "PractitionerRole":
        return _who(target.get("practitioner"), refs)
    return _first(
        *(human_name(n) for n in target.get("name", []) if isinstance(n, dict)),
        target.get("name") if isinstance(target.get("name"), str) else None,
    )


def _facts(*pairs: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in pairs if v)


# ---- one builder per resource type ----------------------------------------------------------------


def _encounter(r: dict, refs: Refs) -> Entry:
    reasons = [concept_text(c) for c in r.get("reasonCode", [])]
    reasons += [
        concept_text(refs.get(ref_key(x) or "", {}).get("code")) for x in r.get("reasonReference", [])
    ]
    doctor = _first(*(_who(p.get("individual"), refs) for p in r.get("participant", [])))
    return Entry(
        _ref(r),
        "encounter",
        r.get("period", {}).get("start", ""),
        _first(*(concept_text(t) for t in r.get("type", [])), r.get("class", {}).get("display")),
        source_member(r),
        r.get("status"),
        facts=_facts(
            ("detail.class", r.get("class", {}).get("display")),
            ("detail.reason", "、".join(x for x in reasons if x)),
            ("detail.clinician", doctor),
            ("detail.until", r.get("period", {}).get("end", "")[:10]),
        ),
    )


def _condition(r: dict, refs: Refs) -> Entry:
    return Entry(
        _ref(r),
        "condition",
        _first(r.get("recordedDate"), r.get("onsetDateTime")),
        concept_text(r.get("code")),
        source_member(r),
        coding_code(r.get("clinicalStatus")),
        facts=_facts(
            ("detail.onset", (r.get("onsetDateTime") or "")[:10]),
            ("detail.category", _first(*(concept_text(c) for c in r.get("category", [])))),
            ("detail.clinician", _who(r.get("recorder"), refs)),
        ),
    )


def observation_results(r: dict, label: str | None = None) -> tuple[Result, ...]:
    """The values of an Observation: its own value and each component (blood pressure's two parts)."""
    out = []
    own = _value(r, label or concept_text(r.get("code")))
    if own:
        out.append(own)
    for comp in r.get("component", []):
        if part := _value(comp, concept_text(comp.get("code"))):
            out.append(part)
    return tuple(out)


def _value(element: dict, label: str) -> Result | None:
    if "valueQuantity" in element:
        value, unit = quantity_text(element["valueQuantity"])
    elif "valueCodeableConcept" in element:
        value, unit = concept_text(element["valueCodeableConcept"]), ""
    elif "valueString" in element:
        value, unit = element["valueString"], ""
    else:
        return None
    flag = _first(*(coding_code(i) for i in element.get("interpretation", []))) or None
    return Result(label, value, unit, flag if flag != "N" else None, _range_text(element))


def _range_text(element: dict) -> str:
    for rng in element.get("referenceRange", []):
        if rng.get("text"):
            return rng["text"]
        low, unit = quantity_text(rng.get("low"))
        high, unit_high = quantity_text(rng.get("high"))
        if low or high:
            return f"{low}-{high} {unit or unit_high}".strip()
    return ""


def _observation(r: dict, refs: Refs) -> Entry:
    return Entry(
        _ref(r),
        "observation",
        _when(r),
        concept_text(r.get("code")),
        source_member(r),
        r.get("status"),
        results=observation_results(r),
        facts=_facts(("detail.category", _first(*(concept_text(c) for c in r.get("category", []))))),
    )


def is_imaging_report(r: dict) -> bool:
    codes = {coding_code(c) for c in r.get("category", [])}
    return bool(r.get("imagingStudy")) or bool(codes & {"RAD", "IMG", "imaging"})


def _report(r: dict, refs: Refs) -> Entry:
    results: list[Result] = []
    for ref in r.get("result", []):
        if obs := refs.get(ref_key(ref) or ""):
            results.extend(observation_results(obs, concept_text(obs.get("code"))))
    facts: list[tuple[str, str | None]] = [
        ("detail.interpreter", _first(*(_who(x, refs) for x in r.get("resultsInterpreter", []))))
    ]
    for ref in r.get("imagingStudy", []):
        if study := refs.get(ref_key(ref) or ""):
            facts += _study_facts(study)
    return Entry(
        _ref(r),
        "imaging" if is_imaging_report(r) else "report",
        _when(r),
        concept_text(r.get("code")),
        source_member(r),
        r.get("status"),
        r.get("conclusion", ""),
        _facts(*facts),
        tuple(results),
    )


def _study_facts(study: dict) -> list[tuple[str, str | None]]:
    modality = ", ".join(m.get("code", "") for m in study.get("modality", []))
    return [
        ("detail.modality", modality),
        ("detail.series", str(study.get("numberOfSeries", "")) or None),
        ("detail.images", str(study.get("numberOfInstances", "")) or None),
    ]


def _imaging_study(r: dict, refs: Refs) -> Entry:
    title = _first(*(concept_text(c) for c in r.get("procedureCode", [])), r.get("description"))
    return Entry(
        _ref(r),
        "imaging",
        r.get("started", ""),
        title,
        source_member(r),
        r.get("status"),
        facts=_facts(*_study_facts(r)),
    )


def _medication_title(r: dict, refs: Refs) -> str:
    if "medicationCodeableConcept" in r:
        return concept_text(r["medicationCodeableConcept"])
    med = refs.get(ref_key(r.get("medicationReference")) or "")
    return concept_text((med or {}).get("code")) or (r.get("medicationReference") or {}).get("display", "")


def _dosage_text(dosages: list[dict]) -> str:
    return "；".join(d["text"] for d in dosages if d.get("text"))


def _medication_request(r: dict, refs: Refs) -> Entry:
    supply = r.get("dispenseRequest", {}).get("expectedSupplyDuration", {})
    days = f"{supply['value']} {supply.get('unit', '')}".strip() if supply.get("value") else None
    return Entry(
        _ref(r),
        "medication",
        r.get("authoredOn", ""),
        _medication_title(r, refs),
        source_member(r),
        r.get("status"),
        _dosage_text(r.get("dosageInstruction", [])),
        _facts(("detail.supply", days), ("detail.clinician", _who(r.get("requester"), refs))),
    )


def _medication_statement(r: dict, refs: Refs) -> Entry:
    since = r.get("effectivePeriod", {}).get("start") or r.get("effectiveDateTime")
    return Entry(
        _ref(r),
        "medication",
        _first(r.get("dateAsserted"), since),
        _medication_title(r, refs),
        source_member(r),
        r.get("status"),
        _dosage_text(r.get("dosage", [])),
        _facts(
            ("detail.since", (since or "")[:10]), ("detail.clinician", _who(r.get("informationSource"), refs))
        ),
    )


def _medication_event(r: dict, refs: Refs) -> Entry:
    """MedicationAdministration and MedicationDispense: a dose given or a supply handed over."""
    when = _first(
        r.get("effectiveDateTime"),
        r.get("effectivePeriod", {}).get("start"),
        r.get("whenHandedOver"),
        r.get("whenPrepared"),
    )
    return Entry(
        _ref(r),
        "medication",
        when,
        _medication_title(r, refs),
        source_member(r),
        r.get("status"),
        _dosage_text(r.get("dosageInstruction", [])) or r.get("dosage", {}).get("text", ""),
    )


def _allergy(r: dict, refs: Refs) -> Entry:
    return Entry(
        _ref(r),
        "allergy",
        _first(r.get("recordedDate"), r.get("onsetDateTime")),
        concept_text(r.get("code")),
        source_member(r),
        coding_code(r.get("clinicalStatus")),
        facts=_facts(("detail.reaction", reactions(r)), ("detail.criticality", r.get("criticality"))),
    )


def reactions(r: dict) -> str:
    return "、".join(concept_text(m) for x in r.get("reaction", []) for m in x.get("manifestation", []))


def _immunization(r: dict, refs: Refs) -> Entry:
    return Entry(
        _ref(r),
        "immunization",
        _first(r.get("occurrenceDateTime"), r.get("recorded")),
        concept_text(r.get("vaccineCode")),
        source_member(r),
        r.get("status"),
        facts=_facts(
            ("detail.lot", r.get("lotNumber")),
            ("detail.site", concept_text(r.get("site"))),
            ("detail.route", concept_text(r.get("route"))),
        ),
    )


def _procedure(r: dict, refs: Refs) -> Entry:
    when = _first(r.get("performedDateTime"), r.get("performedPeriod", {}).get("start"))
    doctor = _first(*(_who(p.get("actor"), refs) for p in r.get("performer", [])))
    return Entry(
        _ref(r),
        "procedure",
        when,
        concept_text(r.get("code")),
        source_member(r),
        r.get("status"),
        facts=_facts(("detail.clinician", doctor)),
    )


def _care_plan(r: dict, refs: Refs) -> Entry:
    title = _first(r.get("title"), *(concept_text(c) for c in r.get("category", [])))
    return Entry(
        _ref(r),
        "careplan",
        _first(r.get("created"), r.get("period", {}).get("start")),
        title,
        source_member(r),
        r.get("status"),
        r.get("description", ""),
        _facts(
            ("detail.since", r.get("period", {}).get("start", "")[:10]),
            ("detail.clinician", _who(r.get("author"), refs)),
        ),
    )


BUILDERS: dict[str, Callable[[dict, Refs], Entry]] = {
    "Encounter": _encounter,
    "Condition": _condition,
    "Observation": _observation,
    "DiagnosticReport": _report,
    "ImagingStudy": _imaging_study,
    "MedicationRequest": _medication_request,
    "MedicationStatement": _medication_statement,
    "MedicationAdministration": _medication_event,
    "MedicationDispense": _medication_event,
    "AllergyIntolerance": _allergy,
    "Immunization": _immunization,
    "Procedure": _procedure,
    "CarePlan": _care_plan,
}


def _ref(r: dict) -> str:
    return f"{r['resourceType']}/{r.get('id')}"


def _when(r: dict) -> str:
    return _first(
        r.get("effectiveDateTime"),
        r.get("effectivePeriod", {}).get("start"),
        r.get("effectiveInstant"),
        r.get("issued"),
    )

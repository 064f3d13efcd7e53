"""The 139 HL7 v2 sample messages of Microsoft's FHIR-Converter: every one parses, every one of a type Yilian
records maps to valid FHIR R4, and for ADT and ORU the key fields agree with Microsoft's own output.

Deliberate differences (see docs/ingest.md): local times get the +08:00 zone when the message has none
(Microsoft leaves them zone-less or drops the time); identifier systems are ours; OBX-11 'I' maps to
'registered' (the HL7 v2-to-FHIR IG) where Microsoft writes 'unknown'.
"""

from __future__ import annotations

import contextlib
import copy
import json
import tarfile
from functools import cache
from pathlib import Path

import pytest

from yilian.fhir.validation import validate
from yilian.ingest.codes import CodeMap
from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.decode import decode, split_messages
from yilian.ingest.hl7v2.mapper import map_message, supported
from yilian.ingest.hl7v2.message import Message
from yilian.testing.plugin import shared_data

FOLDER = "hl7v2-fhir-converter"


def _messages() -> list[tuple[str, str]]:
    folder = shared_data(f"{FOLDER}/messages")
    out = []
    for path in sorted(folder.glob("*.hl7")):
        for i, text in enumerate(split_messages(decode(path.read_bytes()).text)):
            out.append((f"{path.stem}#{i}", text))
    return out


@cache
def _expected() -> dict[str, dict]:
    archive = shared_data(f"{FOLDER}/expected-fhir-from-ms-converter.tar.gz")
    out = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith("-expected.json"):
                handle = tar.extractfile(member)
                assert handle is not None
                out[Path(member.name).name.removesuffix("-expected.json")] = json.load(handle)
    return out


def _map(text: str):  # noqa: ANN202
    return map_message(Message(text), "m-test", CodeMap("m-test"))


def test_all_139_messages_parse():
    messages = _messages()
    assert len(messages) == 139
    for name, text in messages:
        msg = Message(text)
        assert msg.type and msg.control_id, name
        assert msg.segments[0].id == "MSH" and len(msg.segments) >= 2, name


def test_every_supported_message_maps_to_valid_fhir():
    mapped = refused = 0
    for name, text in _messages():
        msg = Message(text)
        if not supported(msg):
            with pytest.raises(IngestError, match="not one Yilian records"):
                _map(text)
            refused += 1
            continue
        try:
            bundle = _map(text).bundle
        except IngestError as err:  # a message that cannot be recorded must say why, with a location
            assert err.location, (name, str(err))
            continue
        assert validate(bundle) == [], name
        mapped += 1
    assert mapped >= 100 and refused > 0


def _resources(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _ms_cases(prefix: tuple[str, ...]) -> list[tuple[str, str, dict]]:
    expected = _expected()
    return [
        (name, text, expected[name.split("#")[0]])
        for name, text in _messages()
        if name.startswith(prefix) and name.endswith("#0") and name.split("#")[0] in expected
    ]


def _patient_key_fields(p: dict) -> dict:
    name = (p.get("name") or [{}])[0]
    address = next((a for a in p.get("address", []) if a.get("city") or a.get("line")), {})
    return {
        "identifiers": sorted(i["value"] for i in p.get("identifier", [])),
        "family": name.get("family"),
        "given": (name.get("given") or [None])[0],
        "birthDate": p.get("birthDate"),
        "gender": p.get("gender"),
        "city": (address.get("city") or "").strip() or None,  # we trim what senders pad
        "postalCode": (address.get("postalCode") or "").strip() or None,
    }


@pytest.mark.parametrize("prefix", [("ADT",), ("ORU", "LAB-ORU", "LRI")])
def test_patients_agree_with_microsofts_output(prefix):
    cases = _ms_cases(prefix)
    assert cases
    for name, text, expected in cases:
        try:
            ours = _map(text).bundle
        except IngestError:
            continue  # a refusal is checked above; A40/A41 compare below
        (theirs,) = _resources(expected, "Patient")[:1] or [None]
        mine = _resources(ours, "Patient")
        if theirs is None or not mine:
            continue
        a, b = _patient_key_fields(mine[0]), _patient_key_fields(theirs)
        assert set(a["identifiers"]) <= set(b["identifiers"]), name  # we keep PID-2/3 only, not SSN etc.
        for key in ("family", "given", "birthDate", "gender", "city", "postalCode"):
            assert a[key] == b[key], (name, key, a[key], b[key])


def test_lab_results_agree_with_microsofts_output():
    compared = 0
    for name, text, expected in _ms_cases(("ORU", "LAB-ORU", "LRI")):
        ours = _map(text).bundle
        mine = {
            (o["code"]["coding"][0]["code"], str(o.get("valueQuantity", {}).get("value"))): o
            for o in _resources(ours, "Observation")
        }
        for theirs in _resources(expected, "Observation"):
            code = theirs["code"]["coding"][0]["code"]
            value = str(theirs.get("valueQuantity", {}).get("value"))
            assert (code, value) in mine, (name, code, value)
            ours_obs = mine[(code, value)]
            if "valueQuantity" in theirs and "unit" in theirs["valueQuantity"]:
                assert ours_obs["valueQuantity"]["unit"] == theirs["valueQuantity"]["unit"], (name, code)
            if theirs["status"] != "unknown":
                assert ours_obs["status"] == theirs["status"], (name, code)
            compared += 1
        # one report per OBR (Microsoft also makes reports of some OBX groups in ORU-R01-01)
        assert bool(_resources(ours, "DiagnosticReport")) == bool(_resources(expected, "DiagnosticReport")), (
            name
        )
    assert compared >= 20


def test_visits_agree_with_microsofts_output():
    compared = 0
    for name, text, expected in _ms_cases(("ADT",)):
        try:
            ours = _map(text).bundle
        except IngestError:
            continue
        theirs, mine = _resources(expected, "Encounter"), _resources(ours, "Encounter")
        if not theirs or not mine:
            continue
        assert mine[0]["class"]["code"] == theirs[0]["class"]["code"], name
        if theirs[0].get("period", {}).get("start"):
            assert "period" in mine[0], name
            assert mine[0]["period"]["start"][:10] == theirs[0]["period"]["start"][:10], name
        compared += 1
    assert compared >= 10


def _reference_reps(segment, n: int, esc: str, seps: str) -> list:  # noqa: ANN001 - an hl7.Segment
    """Field n read through python-hl7's own containers, as the ingest read fields before it had python-hl7
    build plain lists: repetitions of components of subcomponents, unescaped, empty repetitions left out."""
    from yilian.ingest.hl7v2.message import unescape

    def text(value: str) -> str:
        return unescape(value, esc, seps) if esc in value else value

    if n >= len(segment):
        return []
    field = segment[n]
    if len(field) == 1 and isinstance(field[0], str):
        return [[[text(field[0])]]] if field[0] else []
    out = []
    for rep in field:
        if isinstance(rep, str):
            out.append([[text(rep)]])
        else:
            out.append([[text(c)] if isinstance(c, str) else [text(s) for s in c] for c in rep])
    return [r for r in out if any(any(s for s in comp) for comp in r)]


def _fields_compared(name: str, text: str) -> int:
    """Every field of a message read through Message (parsed field by field, when read) and through
    python-hl7's own containers (the whole message parsed at once) must be the same."""
    import hl7

    msg = Message(text)
    reference = hl7.parse(text.strip("\r\n"))
    assert [s.id for s in msg.segments] == [str(s[0][0]) for s in reference], name
    fields = 0
    for ours, theirs in zip(msg.segments, reference, strict=True):
        for n in range(len(theirs) + 1):
            assert ours.reps(n) == _reference_reps(theirs, n, reference.esc, reference.separators), (
                f"{name} {ours.id}-{n}"
            )
            fields += 1
    return fields


def test_every_field_reads_as_through_python_hl7_containers():
    fields = sum(_fields_compared(name, text) for name, text in _messages())
    assert fields > 10_000


# Messages the samples do not show: other separators, a fifth encoding character, escapes, empty
# repetitions, subcomponents, a segment that is only its id, trailing blanks, a second header segment.
ODD_MESSAGES = [
    "MSH*$#@!*LIS*m-a*YILIAN*ALLIANCE*20260301**ORU$R01*C1*P*2.5.1\rPID*1**A1$$$!1.2!ISO$MR#B2**张$伟",
    "MSH|^~\\&#|LIS|m-a|||20260301||ADT^A01|C2|P|2.5.1\rPID|1||A1^^^&1.2&ISO^MR~~B2|||a\\F\\b\\X41\\c",
    "MSH|^~\\&|LIS|m-a|||20260301||ORU^R01|C3|P|2.5.1\rPV1\rOBX|1|ST|X^^L||a~~b^c&d&&e||  \t",
    "MSH|^~\\&|LIS|m-a|||20260301||ORU^R01|C4|P|2.5.1\rMSH|^~\\&|X\rOBX|1|NM|A&B~C|||\\E\\\\H\\",
    "MSH|^~\\&|LIS|m-a|||20260301||ORU^R01|C5|P|2.5.1|||||CHN|UNICODE UTF-8\rZZ1|\rZZ2||||",
]


@pytest.mark.parametrize("text", ODD_MESSAGES)
def test_odd_messages_read_as_through_python_hl7_containers(text):
    assert _fields_compared(text[:40], text) > 5


def test_mapping_leaves_the_fields_it_reads_as_they_were():
    """Parsed fields are shared by every read and by every message with the same field text; mapping
    must never change them."""
    for name, text in _messages():
        msg = Message(text)
        before = [[copy.deepcopy(s.reps(n)) for n in range(60)] for s in msg.segments]
        with contextlib.suppress(IngestError):  # a message refused part way has read fields too
            map_message(msg, "m-test", CodeMap("m-test"))
        assert [[s.reps(n) for n in range(60)] for s in msg.segments] == before, name

"""One parsed HL7 v2 message, read by position: `msg.first("PID").get(5, 1)` is PID-5.1.

python-hl7 does the parsing (separators from MSH-1/MSH-2, repetitions, components, subcomponents);
this wrapper gives every field the same shape (repetitions of components of subcomponents), unescapes
text (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\.br\\ \\Xhh\\) and answers '' for anything absent, so mapping code never
has to care how deep a value happened to be nested.

Fields are parsed when first read. A message is cut into segments and each segment into fields as
python-hl7 cuts them, and a field's text goes through python-hl7's own parse of a field (`hl7.parser._split`
with the message's parse plan, what `hl7.parse` applies to every field) the first time it is read: a lab
report has some 230 fields, repetitions and components, and mapping it reads a few dozen fields. The
conformance test (tests/conformance/test_hl7v2_samples.py) reads every field of the 139 reference samples
both ways and finds them equal.
"""

from __future__ import annotations

from functools import lru_cache

import hl7
from hl7.exceptions import ParseException
from hl7.parser import _split, create_parse_plan  # pinned hl7; the conformance test guards this use

from yilian.ingest.errors import REQUIRED_MISSING, UNSUPPORTED_VERSION, IngestError
from yilian.ingest.hl7v2.decode import check_header

Rep = list[list[str]]  # components of subcomponents
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")
HEADERS = ("MSH", "BHS", "FHS")  # python-hl7 keeps field 1 (the field separator) and 2 of these whole
SHARED_FIELD = 200  # longer field texts (reports, embedded documents) are parsed for each message


def _plain(sequence: list, esc: str | None = None, separators: str | None = None, factory=None) -> list:  # noqa: ANN001
    return sequence


class _PlainLists(hl7.Factory):
    """python-hl7's documented hook for what it builds: segments, fields, repetitions and components as
    plain lists. Its parsing is unchanged; we read by position and need none of its container methods,
    and building those objects is half its parse time."""

    create_segment = staticmethod(_plain)
    create_field = staticmethod(_plain)
    create_repetition = staticmethod(_plain)
    create_component = staticmethod(_plain)


class Segment:
    __slots__ = ("id", "_fields", "_plan")

    def __init__(self, text: str, segment_plan, field_plan) -> None:  # noqa: ANN001 - python-hl7's plans
        self._plan = field_plan  # python-hl7's plan for one field, with this message's separators
        self.id, self._fields = self._cut(text, segment_plan)  # a field: its text until read, then its reps

    def _cut(self, text: str, plan) -> tuple[str, list]:  # noqa: ANN001
        """The id and the fields, as python-hl7's segment level cuts them (hl7.parser._split); what it
        keeps whole (MSH-1 and MSH-2, or a segment without any separator) is read at once."""
        if plan.separator not in text and not plan.applies(text):  # python-hl7 keeps the bare text
            return (text[0] if text else ""), [self._whole(list(text))]  # (its characters read the same)
        if text[:3] in HEADERS:
            end = text.find(text[3], 4)
            rest = text[end + 1 :]
            kept = [self._whole([part]) for part in (text[:3], text[3], text[4:end])]
            return text[:3], kept + (rest.split(plan.separator) if rest else [])
        fields = text.split(plan.separator)
        return _segment_id(fields[0], self._plan), fields

    def _whole(self, field: list) -> list[Rep]:
        return _repetitions(field, self._plan.esc, self._plan.separators)

    def reps(self, n: int) -> list[Rep]:
        """Field n's repetitions (MSH-n too: MSH-1 is the field separator). The lists are shared: by
        every read of the field, and by every message with the same text in it (codes, units, statuses
        and times come again and again), so they are read and never changed."""
        fields = self._fields
        if n >= len(fields):
            return []
        found = fields[n]
        if found.__class__ is str:  # not read yet
            if len(found) <= SHARED_FIELD:
                found = fields[n] = _field_reps(found, self._plan)
            else:
                found = fields[n] = self._whole(_split(found, self._plan))
        return found

    def get(self, n: int, comp: int = 1, rep: int = 1, sub: int = 1) -> str:
        reps = self.reps(n)
        if len(reps) < rep or len(reps[rep - 1]) < comp:
            return ""
        subs = reps[rep - 1][comp - 1]
        return subs[sub - 1] if len(subs) >= sub else ""


@lru_cache(maxsize=64)
def _plans(header: str) -> tuple:
    """python-hl7's plans for the segments and the fields of a message that starts with `header` (MSH up
    to the end of MSH-2, all python-hl7 reads to make them): the same two for every message that uses
    the same separators."""
    segment_plan = create_parse_plan(header, _PlainLists).next()
    return segment_plan, segment_plan.next()


@lru_cache(maxsize=256)
def _segment_id(text: str, field_plan) -> str:  # noqa: ANN001
    """The id python-hl7 gives a segment whose field 0 is `text` (its first repetition, as text)."""
    first = _split(text, field_plan)
    return str(first[0]) if first else ""


@lru_cache(maxsize=8192)
def _field_reps(text: str, field_plan) -> list[Rep]:  # noqa: ANN001
    return _repetitions(_split(text, field_plan), field_plan.esc, field_plan.separators)


def _repetitions(field: list, esc: str, seps: str) -> list[Rep]:
    """python-hl7's parse of a field as repetitions of components of subcomponents, unescaped; an empty
    repetition (~~) is no repetition."""
    if len(field) == 1 and field[0].__class__ is str:  # a plain value, the common case
        value = field[0]
        return [[[unescape(value, esc, seps) if esc in value else value]]] if value else []
    out = []
    for rep in field:
        if rep.__class__ is str:
            rep = [rep]
        comps = [[c] if c.__class__ is str else c for c in rep]
        if not any(map(any, comps)):
            continue
        if esc in "".join(map("".join, comps)):
            comps = [[unescape(s, esc, seps) if esc in s else s for s in comp] for comp in comps]
        out.append(comps)
    return out


class Message:
    def __init__(self, text: str) -> None:
        text = text.strip("\r\n")
        check_header(text)
        try:
            strmsg = text.strip()  # as hl7.parse strips it
            segment_plan, field_plan = _plans(strmsg[: strmsg.find(strmsg[3], 4) + 1] or strmsg)
            self.segments = [Segment(s, segment_plan, field_plan) for s in strmsg.split("\r")]
        except (ParseException, IndexError, ValueError) as exc:
            raise IngestError(f"The message cannot be parsed: {exc}", location="MSH") from None
        self.text = text
        self._by_id: dict[str, list[Segment]] = {}
        for seg in self.segments:
            self._by_id.setdefault(seg.id, []).append(seg)
        self.msh = self.segments[0]
        self.type = self.msh.get(9, 1).upper()
        self.event = self.msh.get(9, 2).upper()
        self.control_id = self.msh.get(10)
        self.version = self.msh.get(12)
        self._check()

    def _check(self) -> None:
        if not self.type:
            raise IngestError(
                "MSH-9 (message type) is empty: the message is truncated or malformed",
                location="MSH-9",
                code=REQUIRED_MISSING,
            )
        if not self.control_id:
            raise IngestError(
                "MSH-10 (message control id) is empty", location="MSH-10", code=REQUIRED_MISSING
            )
        if self.version and self.version not in SUPPORTED_VERSIONS:
            raise IngestError(
                f"HL7 version {self.version!r} (MSH-12) is not supported; send 2.3 to 2.8",
                location="MSH-12",
                code=UNSUPPORTED_VERSION,
            )

    @property
    def name(self) -> str:
        return f"{self.type}^{self.event}" if self.event else self.type

    def first(self, seg_id: str) -> Segment | None:
        found = self._by_id.get(seg_id)
        return found[0] if found else None

    def all(self, seg_id: str) -> list[Segment]:
        return list(self._by_id.get(seg_id, ()))

    def need(self, seg_id: str) -> Segment:
        seg = self.first(seg_id)
        if seg is None:
            raise IngestError(
                f"{self.name} needs a {seg_id} segment, and this message has none",
                location=seg_id,
                code=REQUIRED_MISSING,
            )
        return seg


def unescape(value: str, esc: str, seps: str) -> str:
    """HL7 escape sequences to text: \\F\\ | \\S\\ ^ \\T\\ & \\R\\ ~ \\E\\ escape \\.br\\ newline,
    \\Xhh..\\ bytes."""
    out, i = [], 0
    named = {"F": seps[1], "R": seps[2], "S": seps[3], "T": seps[4], "E": esc, ".br": "\n"}
    while i < len(value):
        ch = value[i]
        end = value.find(esc, i + 1) if ch == esc else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        token = value[i + 1 : end]
        if token in named:
            out.append(named[token])
        elif token[:1] == "X" and len(token) % 2 == 1:
            try:
                out.append(bytes.fromhex(token[1:]).decode("utf-8", "replace"))
            except ValueError:
                out.append(value[i : end + 1])
        else:
            out.append(value[i : end + 1])  # unknown sequences (\H\ \N\ highlighting, \Z..\) kept as sent
        i = end + 1
    return "".join(out)

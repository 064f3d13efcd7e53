"""One parsed HL7 v2 message, read by position: `msg.first("PID").get(5, 1)` is PID-5.1.

python-hl7 does the parsing (separators from MSH-1/MSH-2, repetitions, components, subcomponents);
this wrapper gives every field the same shape (repetitions of components of subcomponents), unescapes
text (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\.br\\ \\Xhh\\) and answers '' for anything absent, so mapping code never
has to care how deep a value happened to be nested.
"""

from __future__ import annotations

import hl7
from hl7.exceptions import ParseException

from yilian.ingest.errors import REQUIRED_MISSING, UNSUPPORTED_VERSION, IngestError
from yilian.ingest.hl7v2.decode import check_header

Rep = list[list[str]]  # components of subcomponents
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2")


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
    __slots__ = ("id", "_fields", "_esc", "_seps")

    def __init__(self, raw: list, esc: str, seps: str) -> None:
        self.id = str(raw[0][0]) if raw and raw[0] else ""
        self._fields = raw
        self._esc = esc
        self._seps = seps

    def reps(self, n: int) -> list[Rep]:
        """Field n's repetitions (MSH-n too: MSH-1 is the field separator). Built on each call, not kept:
        a message is mapped once, and kept copies only give the garbage collector more to walk."""
        if n >= len(self._fields):
            return []
        field, esc, seps = self._fields[n], self._esc, self._seps
        if len(field) == 1 and field[0].__class__ is str:  # a plain value, the common case
            value = field[0]
            return [[[unescape(value, esc, seps) if esc in value else value]]] if value else []
        out = []
        for rep in field:
            if rep.__class__ is str:
                rep = [rep]
            comps = [[c] if c.__class__ is str else c for c in rep]
            if not any(map(any, comps)):  # an empty repetition (~~) is no repetition
                continue
            if esc in "".join(map("".join, comps)):
                comps = [[unescape(s, esc, seps) if esc in s else s for s in comp] for comp in comps]
            else:
                comps = [list(comp) for comp in comps]  # our own copy: python-hl7's lists stay as parsed
            out.append(comps)
        return out

    def get(self, n: int, comp: int = 1, rep: int = 1, sub: int = 1) -> str:
        if n < len(self._fields):
            field = self._fields[n]
            if len(field) == 1 and field[0].__class__ is str:  # a plain value: no lists to build
                value = field[0]
                if comp != 1 or rep != 1 or sub != 1 or not value:
                    return ""
                return unescape(value, self._esc, self._seps) if self._esc in value else value
        reps = self.reps(n)
        if len(reps) < rep or len(reps[rep - 1]) < comp:
            return ""
        subs = reps[rep - 1][comp - 1]
        return subs[sub - 1] if len(subs) >= sub else ""


class Message:
    def __init__(self, text: str) -> None:
        text = text.strip("\r\n")
        check_header(text)
        try:
            parsed = hl7.parse(text, factory=_PlainLists)
        except (ParseException, IndexError, ValueError) as exc:
            raise IngestError(f"The message cannot be parsed: {exc}", location="MSH") from None
        self.text = text
        seps = parsed.separators  # segment, field, repetition, component, subcomponent
        self.segments = [Segment(s, parsed.esc, seps) for s in parsed]
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

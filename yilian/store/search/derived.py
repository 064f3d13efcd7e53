"""Index rows the store does not write because other rows or the `resources` row already answer them.

Two kinds, both exact (a search finds the same resources as if every row had been written):

- Covered parameters: a parameter defined as a union of others (Observation's combo-code is `code |
  component.code`; a clinical resource's `subject` holds its `patient`) keeps only the values the
  covering parameter lacks; a search, sort, chain or _include on it reads its own rows and the covering
  parameter's (`param IN (...)`).
- Column labels: the source-member tag is the `member` column, and the GB/T 39725 labels the gate writes
  (category, level, the confidentiality that follows from the level, the sensitivity class) are the
  label columns. The member tag row is left out whenever the column is set; the label rows are left out
  only when the columns reproduce them exactly, and then the `labels_in_columns` column says so. A
  resource of a level other than UNMARKED_LEVEL also gets one marker row (`_security:columns`, value
  its level code, "L5"), which keeps searches for those few on an index probe (level 5 alone has a
  sensitivity class); the many of UNMARKED_LEVEL need no row: a search for them reads most of the type
  anyway. A search on `_tag` / `_security` matches the rows or the columns.

Rows written before this existed stay valid: each search matches rows OR columns, so a resource found
through both is found once; resources stored before `labels_in_columns` existed have a marker row at
every level, which the searches read too.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import ColumnElement, String, case, cast, false, func, literal, or_, select

from yilian.alliance.codes import (
    ACT_CODE,
    CONFIDENTIALITY,
    CONFIDENTIALITY_OF_LEVEL,
    GBT_CATEGORY,
    GBT_LEVEL,
    SENSITIVE_ELEMENT,
    SOURCE_MEMBER,
)
from yilian.store.search.keys import param_key
from yilian.store.tables import idx_token, resources

R = resources.c

# (resource type, parameter) -> parameters whose values it always includes (the same index table).
COVERED: dict[tuple[str, str], tuple[str, ...]] = {
    ("Observation", "combo-code"): ("code",),
    ("Observation", "combo-code:text"): ("code:text",),
    ("Observation", "combo-value-quantity"): ("value-quantity",),
}


@lru_cache(maxsize=256)  # bounded: the type comes from the resource
def covered_params(resource_type: str) -> dict[str, tuple[str, ...]]:
    """Covered parameter -> the parameters covering it, for one type (extraction leaves out a covered
    parameter's rows from a route its covering one shares): COVERED, plus `subject` covered by `patient`
    (`X.subject.where(resolve() is Patient)`) where a type defines both so: a clinical resource's
    subject row is nearly always its patient row."""
    from yilian.store.search.params import search_params  # params reads the spec: only when used

    out = {code: covering for (rtype, code), covering in COVERED.items() if rtype == resource_type}
    params = search_params(resource_type)
    subject, patient = params.get("subject"), params.get("patient")
    if (
        subject is not None
        and patient is not None
        and subject.expression == f"{resource_type}.subject"
        and patient.expression == f"{resource_type}.subject.where(resolve() is Patient)"
    ):
        out["subject"] = ("patient",)
    return out


@lru_cache(maxsize=256)
def _covers(resource_type: str) -> dict[str, tuple[str, ...]]:
    """covered_params the other way round: covering parameter -> the parameters it covers."""
    out: dict[str, tuple[str, ...]] = {}
    for code, covering in covered_params(resource_type).items():
        for c in covering:
            out[c] = (*out.get(c, ()), code)
    return out


def covering_keys(keys: Sequence[int]) -> list[int]:
    """Parameter keys plus the keys of the parameters covering them (for readers given keys, _include)."""
    covering = _covering_by_key()
    return [*keys, *(k for key in keys for k in covering.get(key, ()))]


@lru_cache(maxsize=1)
def _covering_by_key() -> dict[int, tuple[int, ...]]:
    from yilian.store.search.params import resource_types_with_params

    return {
        param_key(rtype, code): tuple(param_key(rtype, c) for c in covering)
        for rtype in resource_types_with_params()
        for code, covering in covered_params(rtype).items()
    }


LABELS_MARKER = "_security:columns"  # a code no search can name (a modifier would be split off)
UNMARKED_LEVEL = 4  # identified clinical records (GB/T 39725 level 4): nearly everything the store holds
LABEL_SYSTEMS = (GBT_CATEGORY, GBT_LEVEL, CONFIDENTIALITY, ACT_CODE)


def param_codes(resource_type: str, code: str) -> tuple[str, ...]:
    """The parameter codes whose rows a search on `code` reads: its own and those covering it."""
    return (code, *covered_params(resource_type).get(code, ()))


# --- writing --------------------------------------------------------------------------------------


def drop_covered(rtype: str, strings: list, tokens: list, quantities: list, references: list) -> None:
    """Leave out the rows of a covered parameter that its covering parameter holds (lists in place)."""
    covers = _covers(rtype)
    if not covers:
        return
    covered = covered_params(rtype)
    for rows in (strings, tokens, quantities, references):
        # Extraction already leaves out the repeats from shared routes (extract._compile_type): most
        # lists hold no covered parameter's row at all.
        if rows and any(row[0] in covered for row in rows):
            rows[:] = _without_covered(rows, covers)


def _without_covered(rows: list, covers: dict[str, tuple[str, ...]]) -> list:
    """The rows but those a covering parameter's row repeats (the same values under a covered code)."""
    repeated = {(c, *row[1:]) for row in rows if row[0] in covers for c in covers[row[0]]}
    if not repeated:
        return rows
    return [row for row in rows if row not in repeated]


def column_labels(rows: list, member: str | None, security: object) -> tuple | None:
    """Leave out the `_tag` / `_security` rows (of `rows`, in place) that the member and label columns
    answer; returns the label columns' values `(level, category, sensitivity, redact)` when they stand
    for the labels (then a level other than UNMARKED_LEVEL gets its marker row), else None."""
    labels = _reproducible_labels(security)
    if not (isinstance(member, str) and member) and labels is None:
        return None
    with_labels = labels is not None
    kept = [
        row
        for row in rows
        if not (row[0] == "_tag" and row[1] == SOURCE_MEMBER and row[2] == member)
        and not (with_labels and row[0] == "_security" and row[1] in LABEL_SYSTEMS)
    ]
    if labels is not None and labels[1] != UNMARKED_LEVEL:
        kept.append((LABELS_MARKER, None, f"L{labels[1]}"))
    rows[:] = kept
    if labels is None:
        return None
    category, level, sensitivity, redact = labels
    return level, category, sensitivity, " ".join(redact)[:200] or None


def _reproducible_labels(security: object) -> tuple | None:
    """(category, level, sensitivity, redacted elements) when the label columns reproduce exactly the
    labels in meta.security of these systems, else None (then every label keeps its row)."""
    if type(security) is not list:
        return None
    found: dict[str, str] = {}  # system -> its one code
    redact: list[str] = []
    for s in security:
        if type(s) is dict:
            system = s.get("system")
            if system in LABEL_SYSTEMS:
                code = s.get("code")
                if type(code) is not str or system in found:
                    return None
                found[system] = code
            elif system == SENSITIVE_ELEMENT:
                redact.append(s.get("code") or "")
    category, level = found.get(GBT_CATEGORY), found.get(GBT_LEVEL)
    confidentiality, sensitivity = found.get(CONFIDENTIALITY), found.get(ACT_CODE)
    if category is None or level is None or confidentiality is None:
        return None
    number = _level_number(level)
    if not (1 <= len(category) <= 4) or number is None:
        return None
    if confidentiality != CONFIDENTIALITY_OF_LEVEL.get(number, "L"):
        return None
    if sensitivity is not None and not (1 <= len(sensitivity) <= 16 and number == 5):
        return None
    return category, number, sensitivity, redact


@lru_cache(maxsize=64)  # every resource's level code is read, and they are a handful ("L1".."L5")
def _level_number(code: str) -> int | None:
    """The level of a canonical level code ("L4"), else None."""
    digits = code[1:]
    if code[:1] != "L" or not digits.isdigit() or len(digits) > 4 or f"L{int(digits)}" != code:
        return None
    return int(digits)


# --- searching ------------------------------------------------------------------------------------


def column_match(resource_type: str, code: str, values: list[str]) -> ColumnElement[bool] | None:
    """For `_tag` / `_security`, the resources whose columns hold one of the values (None otherwise)."""
    if code == "_tag":
        return or_(*(_member_match(v) for v in values))
    if code == "_security":
        return or_(*(_label_match(resource_type, v) for v in values))
    return None


def column_present(resource_type: str, code: str) -> ColumnElement[bool] | None:
    """For `:missing`: the resources whose columns stand for at least one row."""
    if code == "_tag":
        return R.member.is_not(None) & (R.member != "")
    if code == "_security":
        return _marked(resource_type)
    return None


def column_values(resource_type: str, code: str) -> list[ColumnElement]:
    """For `_tag` / `_security`, the codes the columns hold in place of rows (NULL where they stand for
    none): what `_sort` reads beside the rows."""
    if code == "_tag":
        return [func.nullif(R.member, "")]
    if code == "_security":
        marked = _marked(resource_type)
        level = literal("L") + cast(R.level, String)
        confidentiality = case(CONFIDENTIALITY_OF_LEVEL, value=R.level, else_="L")  # as gate/labels.py
        return [case((marked, v)) for v in (R.category, level, confidentiality, R.sensitivity)]
    return []


def _member_match(value: str) -> ColumnElement[bool]:
    system, bar, tag = value.partition("|")
    if not bar:
        return R.member == value
    if system != SOURCE_MEMBER:
        return false()
    return R.member == tag if tag else (R.member.is_not(None) & (R.member != ""))


def _marked(resource_type: str, *levels: str, exclude: bool = False) -> ColumnElement[bool]:
    """Resources whose label rows the columns stand for (with one of `levels`, or none of them): those
    with `labels_in_columns` at UNMARKED_LEVEL (when it is asked for), and those with a marker row."""
    tok = idx_token.c
    rows = select(tok.rid).where(tok.param == param_key(resource_type, LABELS_MARKER))
    unmarked = f"L{UNMARKED_LEVEL}"
    if not levels:
        return R.labels_in_columns | R.rid.in_(rows)
    rows = rows.where(tok.value.not_in(levels) if exclude else tok.value.in_(levels))
    if (unmarked in levels) == exclude:  # the unmarked level is not asked for
        return R.rid.in_(rows)
    return (R.labels_in_columns & (R.level == UNMARKED_LEVEL)) | R.rid.in_(rows)


def _label_match(resource_type: str, value: str) -> ColumnElement[bool]:
    system, bar, label = value.partition("|")
    if not bar:
        return or_(*(_system_match(resource_type, s, value) for s in LABEL_SYSTEMS))
    if system not in LABEL_SYSTEMS:
        return false()
    return _system_match(resource_type, system, label)


def _system_match(resource_type: str, system: str, label: str) -> ColumnElement[bool]:
    """The marked resources whose labels of `system` include `label` ('' = any label of the system)."""
    if not label:
        if system == ACT_CODE:
            return _marked(resource_type, "L5") & R.sensitivity.is_not(None)
        return _marked(resource_type)
    if system == GBT_CATEGORY:
        return _marked(resource_type) & (R.category == label)
    if system == GBT_LEVEL:
        return _marked(resource_type, label) if _level_number(label) is not None else false()
    if system == CONFIDENTIALITY:
        levels = [f"L{lv}" for lv, c in CONFIDENTIALITY_OF_LEVEL.items() if c == label]
        if levels:
            return _marked(resource_type, *levels)
        high = [f"L{lv}" for lv in CONFIDENTIALITY_OF_LEVEL]
        return _marked(resource_type, *high, exclude=True) if label == "L" else false()
    return _marked(resource_type, "L5") & (R.sensitivity == label)

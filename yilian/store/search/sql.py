"""Compiling SearchQuery criteria into SQL conditions on the `resources` table.

Each criterion becomes `rid IN (SELECT rid FROM idx_<kind> WHERE param = :key AND ...)`: the index tables
are narrow and keyed (param, value, rid), so each subquery is one index range scan on both databases.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, and_, false, not_, or_, select

from yilian.fhir.outcomes import bad_request
from yilian.store import dialect
from yilian.store.search import derived
from yilian.store.search.dates import date_range
from yilian.store.search.keys import param_key
from yilian.store.search.normalize import normalize_string
from yilian.store.search.parse import Criterion, SearchQuery, split_prefix
from yilian.store.tables import (
    idx_date,
    idx_number,
    idx_quantity,
    idx_reference,
    idx_string,
    idx_token,
    idx_uri,
    resources,
)

R = resources.c
TABLE_OF_TYPE = {
    "string": idx_string,
    "token": idx_token,
    "date": idx_date,
    "reference": idx_reference,
    "quantity": idx_quantity,
    "number": idx_number,
    "uri": idx_uri,
}


def query_conditions(query: SearchQuery, scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """All WHERE conditions of a search, the gate's scope included (chained targets are scoped too)."""
    # With criteria, the index subqueries are the selective part: keep the planner off the type index
    # (`type || ''` hides it), or SQLite walks every row of the type and probes the subquery for each.
    rtype = R.type.concat("") if query.criteria or query.ids else R.type
    conds: list[ColumnElement[bool]] = [rtype == query.resource_type, R.deleted == false(), scope]
    for ids in query.ids:
        conds.append(R.id.in_(ids))
    for values in query.last_updated:
        conds.append(or_(*(_point_condition(R.last_updated, v, "_lastUpdated") for v in values)))
    for criterion in query.criteria:
        conds.append(criterion_condition(query.resource_type, criterion, scope))
    return conds


def criterion_condition(resource_type: str, c: Criterion, scope: ColumnElement[bool]) -> ColumnElement[bool]:
    table = TABLE_OF_TYPE.get(c.param.type)
    if table is None:
        raise bad_request(f"Searching by {c.param.type} parameter '{c.param.code}' is not supported yet")
    code = c.param.code
    if c.modifier == "missing":
        present = R.rid.in_(select(table.c.rid).where(_param_is(table, resource_type, code)))
        in_columns = derived.column_present(resource_type, code)
        if in_columns is not None:
            present = or_(present, in_columns)
        return not_(present) if c.values[0] == "true" else present
    if c.chain is not None:
        return _chained(resource_type, c, scope)
    in_columns = None
    if c.param.type == "token" and c.modifier == "text":
        table, code = idx_string, code + ":text"
        value_conds = [_string_value(table, v, "contains") for v in c.values]
    else:
        value_conds = [_value_condition(c, table, v) for v in c.values]
        in_columns = derived.column_match(resource_type, code, c.values)
    matches = R.rid.in_(select(table.c.rid).where(_param_is(table, resource_type, code), or_(*value_conds)))
    if in_columns is not None:
        matches = or_(matches, in_columns)
    return not_(matches) if c.modifier == "not" else matches


def _param_is(table, resource_type: str, code: str) -> ColumnElement[bool]:  # noqa: ANN001
    """The rows of a parameter: its own, and those of the parameters covering it (see derived.py)."""
    keys = [param_key(resource_type, c) for c in derived.param_codes(resource_type, code)]
    return table.c.param == keys[0] if len(keys) == 1 else table.c.param.in_(keys)


def _chained(resource_type: str, c: Criterion, scope: ColumnElement[bool]) -> ColumnElement[bool]:
    from yilian.store.search.params import search_params

    target_type, code = c.chain  # type: ignore[misc]
    inner_param = search_params(target_type)[code]
    inner = Criterion(inner_param, None, c.values)
    # The chained target must be visible to the caller too, or its existence would leak through the match.
    target_conds = (
        R.type == target_type,
        R.deleted == false(),
        scope,
        criterion_condition(target_type, inner, scope),
    )
    targets = select(R.id).where(*target_conds)
    ref = idx_reference.c
    return R.rid.in_(
        select(ref.rid).where(
            _param_is(idx_reference, resource_type, c.param.code),
            ref.target_type == target_type,
            ref.target_id.in_(targets),
        )
    )


def _value_condition(c: Criterion, table, value: str) -> ColumnElement[bool]:  # noqa: ANN001
    kind = c.param.type
    if kind == "string":
        return _string_value(table, value, c.modifier)
    if kind == "token":
        return _token_value(value)
    if kind == "reference":
        return _reference_value(value, c.modifier)
    if kind == "date":
        return _date_value(value, c.param.code)
    if kind == "number":
        return _number_value(idx_number.c.value, value, c.param.code)
    if kind == "quantity":
        return _quantity_value(value, c.param.code)
    if kind == "uri":
        return idx_uri.c.value == value
    raise bad_request(f"Unsupported parameter type {kind}")


def _string_value(table, value: str, modifier: str | None) -> ColumnElement[bool]:  # noqa: ANN001
    norm = normalize_string(value)
    col = table.c.value
    if modifier in ("contains", "text"):
        return col.like(f"%{dialect.like_escape(norm)}%", escape="\\")
    if modifier == "exact":
        return col == norm
    return and_(col >= norm, col < dialect.string_prefix_upper(norm))


def _token_value(value: str) -> ColumnElement[bool]:
    t = idx_token.c
    if "|" not in value:
        return t.value == value
    system, _, code = value.partition("|")
    if not system:
        return and_(t.value == code, t.system == "")
    if not code:
        return t.system == system
    return and_(t.value == code, t.system == system)


def _reference_value(value: str, modifier: str | None) -> ColumnElement[bool]:
    ref = idx_reference.c
    parts = value.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return and_(ref.target_id == parts[-1], ref.target_type == parts[-2])
    cond = ref.target_id == parts[-1]
    if modifier and modifier.startswith("type:"):
        cond = and_(cond, ref.target_type == modifier[5:])
    return cond


def _date_value(value: str, code: str) -> ColumnElement[bool]:
    prefix, raw = split_prefix(value)
    rng = date_range(raw)
    if rng is None:
        raise bad_request(f"'{raw}' is not a valid date for parameter '{code}'", location=code)
    lo, hi = rng
    low, high = idx_date.c.low, idx_date.c.high
    return _range_condition(prefix, lo, hi, low, high, code)


def _range_condition(prefix, lo, hi, low, high, code) -> ColumnElement[bool]:  # noqa: ANN001
    """The FHIR prefix semantics between a search range [lo, hi] and a target range [low, high]."""
    if prefix == "eq":
        return and_(low >= lo, high <= hi)
    if prefix == "ne":
        return or_(low < lo, high > hi)
    if prefix == "gt":
        return high > hi
    if prefix == "lt":
        return low < lo
    if prefix == "ge":
        return high >= lo
    if prefix == "le":
        return low <= hi
    if prefix == "sa":
        return low > hi
    if prefix == "eb":
        return high < lo
    if prefix == "ap":
        gap = max(abs(time.time() - lo), abs(time.time() - hi), 86400.0) * 0.1
        return and_(high >= lo - gap, low <= hi + gap)
    raise bad_request(f"Unknown prefix '{prefix}' on '{code}'")


def _number_range(raw: str, code: str) -> tuple[float, float]:
    """A decimal's implicit precision range: '5.4' means [5.35, 5.45)."""
    try:
        number = float(raw)
    except ValueError:
        raise bad_request(f"'{raw}' is not a number for parameter '{code}'", location=code) from None
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    half = 0.5 * 10.0**-decimals
    return number - half, number + half


def _point_condition(col, value: str, code: str) -> ColumnElement[bool]:  # noqa: ANN001
    """Prefix semantics where the stored value is a point (numbers, quantities, _lastUpdated)."""
    prefix, raw = split_prefix(value)
    if code == "_lastUpdated":
        rng = date_range(raw)
        if rng is None:
            raise bad_request(f"'{raw}' is not a valid date for _lastUpdated")
        lo, hi = rng
    else:
        lo, hi = _number_range(raw, code)
    if prefix in ("gt", "sa"):
        return col > hi
    if prefix in ("lt", "eb"):
        return col < lo
    if prefix == "ge":
        return col >= lo
    if prefix == "le":
        return col <= hi
    if prefix == "ne":
        return or_(col < lo, col > hi)
    if prefix == "ap":
        mid = (lo + hi) / 2
        return and_(col >= mid - abs(mid) * 0.1, col <= mid + abs(mid) * 0.1)
    return and_(col >= lo, col <= hi)


def _number_value(col, value: str, code: str) -> ColumnElement[bool]:  # noqa: ANN001
    return _point_condition(col, value, code)


def _quantity_value(value: str, code: str) -> ColumnElement[bool]:
    q = idx_quantity.c
    number, _, rest = value.partition("|")
    cond = _point_condition(q.value, number, code)
    if rest:
        system, _, unit = rest.partition("|")
        if system:
            cond = and_(cond, q.system == system)
        if unit:
            cond = and_(cond, q.unit == unit)
    return cond

"""_sort: ORDER BY expressions, by resource columns or by a parameter's smallest/largest indexed value."""

from __future__ import annotations

from sqlalchemy import func, select

from yilian.store import dialect
from yilian.store.search.derived import column_values, param_codes
from yilian.store.search.keys import param_key
from yilian.store.search.params import search_params
from yilian.store.search.parse import SearchQuery
from yilian.store.tables import idx_date, idx_number, idx_quantity, idx_string, idx_token, idx_uri, resources

R = resources.c
SORT_COLUMN = {
    "string": (idx_string, "value"),
    "token": (idx_token, "value"),
    "date": (idx_date, "low"),
    "number": (idx_number, "value"),
    "quantity": (idx_quantity, "value"),
    "uri": (idx_uri, "value"),
}


def sort_order(query: SearchQuery) -> list:
    order = []
    for code, desc in query.sort:
        if code == "_lastUpdated":
            expr = R.last_updated
        elif code == "_id":
            expr = R.id
        else:
            expr = _param_value(query.resource_type, code, desc)
        order.append(expr.desc() if desc else expr.asc())
    return order


def _param_value(rtype: str, code: str, desc: bool):  # noqa: ANN202 - a scalar subquery
    kind = search_params(rtype)[code].type
    table, column = SORT_COLUMN.get(kind, (idx_string, "value"))
    col = table.c[column] if not (kind == "date" and desc) else table.c.high
    agg = func.max(col) if desc else func.min(col)
    keys = [param_key(rtype, c) for c in param_codes(rtype, code)]  # a covered parameter's rows are shared
    rows = select(agg).where(table.c.rid == R.rid, table.c.param.in_(keys)).scalar_subquery()
    columns = column_values(rtype, code)  # _tag, _security: the codes kept in columns count too
    if not columns:
        return rows
    return (dialect.greatest if desc else dialect.least)(rows, *columns)

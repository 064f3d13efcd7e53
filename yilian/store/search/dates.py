"""FHIR date, dateTime and instant values as the range of POSIX seconds they cover.

"2020" covers the whole year, "2020-05-01" the day, "2020-05-01T08:30:00+08:00" that second. Index rows
and search values both become [low, high] so every date comparison is two float comparisons in SQL.
A value without a timezone is taken as UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from functools import lru_cache

MIN_TIME = -62135596800.0  # 0001-01-01T00:00:00Z: an open Period start
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: an open Period end
_EPS = 1e-6


@lru_cache(maxsize=65536)
def _day_start(year: int, month: int, day: int) -> float:
    return float(calendar.timegm((year, month, day, 0, 0, 0)))


def date_range(value: str) -> tuple[float, float] | None:
    """The [low, high] seconds a FHIR date/dateTime/instant covers, or None when it is not one."""
    try:
        n = len(value)
        if n == 4:
            y = int(value)
            return _day_start(y, 1, 1), _day_start(y + 1, 1, 1) - _EPS
        if n == 7:
            y, m = int(value[:4]), int(value[5:7])
            nxt = _day_start(y + 1, 1, 1) if m == 12 else _day_start(y, m + 1, 1)
            return _day_start(y, m, 1), nxt - _EPS
        if n == 10:
            start = _day_start(int(value[:4]), int(value[5:7]), int(value[8:10]))
            return start, start + 86400 - _EPS
        return _instant_range(value)
    except (ValueError, OverflowError):
        return None


def _instant_range(value: str) -> tuple[float, float] | None:
    fast = _whole_second(value)
    return fast if fast is not _SLOW else _parsed_range(value)


_SLOW = object()  # _whole_second's answer for values it leaves to the general parser


def _whole_second(value: str):  # noqa: ANN202 - a range, None, or _SLOW
    """Full dateTimes to the second (most stored data) by slicing: ~10x faster than fromisoformat."""
    if len(value) < 19 or value[10] != "T" or value[13] != ":" or value[16] != ":":
        return _SLOW
    try:
        h, mi, s = int(value[11:13]), int(value[14:16]), int(value[17:19])
        start = _day_start(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return _SLOW
    rest = value[19:]
    if h > 23 or mi > 59 or s > 59 or rest[:1] == ".":
        return _SLOW  # invalid, or fractional seconds
    if rest in ("Z", "", "+00:00", "-00:00"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and (rest[1:3] + rest[4:6]).isdigit():
        offset = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        offset = offset if rest[0] == "+" else -offset
    else:
        return _SLOW
    low = start + h * 3600 + mi * 60 + s - offset
    return low, low + 1 - _EPS


def _parsed_range(value: str) -> tuple[float, float] | None:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    dt = datetime.fromisoformat(text)
    seconds = calendar.timegm(dt.utctimetuple()) if dt.tzinfo else calendar.timegm(dt.timetuple())
    if dt.microsecond or "." in value:
        point = seconds + dt.microsecond / 1e6
        return point, point
    if len(value) >= 16 and value[13] == ":" and (len(value) < 17 or value[16] != ":"):
        return float(seconds), seconds + 60 - _EPS  # minute precision (search values may omit seconds)
    return float(seconds), seconds + 1 - _EPS


def instant(seconds: float) -> str:
    """POSIX seconds as a FHIR instant with milliseconds, in UTC."""
    dt = datetime.fromtimestamp(seconds, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"

"""HL7 v2 data types to FHIR data types: TS/DTM, CX, XPN, XAD, XTN, XCN, CE/CWE, NM, SN.

Each function takes the parsed repetition (components of subcomponents) and returns the FHIR element, or
None when the repetition says nothing. A time without a zone is China Standard Time (+08:00), the
zone every member runs on; FHIR needs a zone on any dateTime with a time of day.
"""

from __future__ import annotations

import re
from datetime import date as _date
from functools import lru_cache
from urllib.parse import quote

from yilian.alliance.codes import BASE, RESIDENT_ID
from yilian.ingest.errors import DATA_TYPE, IngestError
from yilian.ingest.hl7v2.message import Rep

LOCAL_ZONE = "+08:00"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4})?$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")


def c(rep: Rep, n: int, sub: int = 1) -> str:
    """Component n (subcomponent `sub`) of a repetition, '' when absent."""
    if len(rep) < n or len(rep[n - 1]) < sub:
        return ""
    return rep[n - 1][sub - 1].strip()


# --- dates and times -------------------------------------------------------------------------------


def ts(value: str, location: str) -> str | None:
    """A TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]) as a FHIR dateTime."""
    value = value.strip()
    if not value:
        return None
    try:
        return _datetime(value)
    except ValueError as err:
        raise IngestError(f"{value!r} {err}", location=location, code=DATA_TYPE) from None


@lru_cache(maxsize=4096)  # the same times come in every result of a report, and in report after report
def _datetime(value: str) -> str:
    m = _TS.match(value)
    if not m:
        raise ValueError("is not an HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    if not month or not day:
        return year + (f"-{month}" if month else "")
    date = f"{year}-{month}-{day}"
    try:
        _date.fromisoformat(date)
    except ValueError:
        raise ValueError("is not a real date") from None
    if not hour:
        return date
    if not (int(hour) < 24 and int(minute or 0) < 60 and int(second or 0) < 60):
        raise ValueError("has an impossible time of day")
    tz = f"{zone[:3]}:{zone[3:]}" if zone else LOCAL_ZONE
    return f"{date}T{hour}:{minute or '00'}:{second or '00'}{frac or ''}{tz}"


def date_only(value: str, location: str) -> str | None:
    found = ts(value, location)
    return found[:10] if found else None


# --- identifiers, names, addresses, telecom --------------------------------------------------------


@lru_cache(maxsize=4096)  # a handful of (member, kind) pairs, asked for by every resource of every message
def member_system(member: str | None, what: str) -> str:
    """An identifier system for something a member numbers itself (visits, orders, reports...)."""
    return f"{BASE}/NamingSystem/{member or 'unknown'}/{quote(what, safe='')}"


def cx(rep: Rep, member: str | None) -> dict | None:
    """CX (1 id, 4 assigning authority HD, 5 identifier type) as an Identifier."""
    value = c(rep, 1)
    if not value:
        return None
    authority, universal, universal_type, kind = c(rep, 4), c(rep, 4, 2), c(rep, 4, 3), c(rep, 5).upper()
    if universal and universal_type.upper() == "ISO":
        system = f"urn:oid:{universal}"
    elif kind in ("NI", "NNCHN", "RI") and len(value) == 18:
        system = RESIDENT_ID
    else:
        system = member_system(member, authority or kind.lower() or "id")
    out: dict = {"system": system, "value": value}
    if kind:
        out["type"] = {"coding": [{"system": V2_0203, "code": kind}]}
        if system == RESIDENT_ID:
            out["type"]["text"] = "居民身份证"
            out["use"] = "official"
        elif kind == "MR":
            out["type"]["text"] = "病案号"
            out["use"] = "usual"
    return out


_NAME_USE = {"L": "official", "D": "usual", "A": "nickname", "M": "maiden", "N": "nickname", "C": "usual"}


def xpn(rep: Rep) -> dict | None:
    """XPN (1 family, 2 given, 3 middle, 4 suffix, 5 prefix, 7 type) as a HumanName."""
    family, given, middle = c(rep, 1), c(rep, 2), c(rep, 3)
    if not (family or given):
        return None
    name: dict = {"use": _NAME_USE.get(c(rep, 7).upper(), "official" if _cjk(family + given) else "usual")}
    name["text"] = (
        family + given if _cjk(family + given) else " ".join(x for x in (family, given, middle) if x)
    )
    if family:
        name["family"] = family
    if given or middle:
        name["given"] = [x for x in (given, middle) if x]
    if c(rep, 4):
        name["suffix"] = [c(rep, 4)]
    if c(rep, 5):
        name["prefix"] = [c(rep, 5)]
    return name


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


_ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "M": "home", "P": "home"}


def xad(rep: Rep) -> dict | None:
    """XAD (1 street, 2 other, 3 city, 4 province, 5 postcode, 6 country, 7 type, 9 district)."""
    line = [x for x in (c(rep, 1), c(rep, 2)) if x]
    city, state, postal, country, district = c(rep, 3), c(rep, 4), c(rep, 5), c(rep, 6), c(rep, 9)
    if not (line or city or state or postal or district):
        return None
    addr: dict = {}
    use = _ADDRESS_USE.get(c(rep, 7).upper())
    if use:
        addr["use"] = use
    if _cjk("".join(line) + city + state):
        addr["text"] = state + city + district + "".join(line)
    if line:
        addr["line"] = line
    for key, value in (("city", city), ("district", district), ("state", state), ("postalCode", postal)):
        if value:
            addr[key] = value
    if country:
        addr["country"] = {"CHN": "CN"}.get(country.upper(), country)
    return addr


_PHONE_USE = {"PRN": "home", "ORN": "home", "WPN": "work", "VHN": "temp", "EMR": "temp"}


def xtn(rep: Rep, default_use: str | None = None) -> dict | None:
    """XTN (1 number as text, 2 use, 3 equipment, 4 e-mail, 6 area, 7 local, 12 unformatted)."""
    use_code, equipment = c(rep, 2).upper(), c(rep, 3).upper()
    email = c(rep, 4)
    if equipment in ("INTERNET", "X.400") or use_code == "NET":
        return {"system": "email", "value": email or c(rep, 1)} if email or c(rep, 1) else None
    value = c(rep, 12) or c(rep, 1) or (c(rep, 6) + c(rep, 7))
    if not value:
        return None
    out: dict = {"system": "fax" if equipment == "FX" else "phone", "value": value}
    use = "mobile" if equipment in ("CP", "BP") else _PHONE_USE.get(use_code, default_use)
    if use:
        out["use"] = use
    return out


def xcn(rep: Rep) -> tuple[str, str, str] | None:
    """XCN (1 id, 2 family, 3 given) as (id, family, given); None when there is nobody."""
    ident, family, given = c(rep, 1), c(rep, 2), c(rep, 3)
    if not (ident or family or given):
        return None
    return ident, family, given


# --- numbers ---------------------------------------------------------------------------------------


def number(value: str, location: str) -> int | float:
    value = value.strip()
    if not _NUMBER.match(value):
        raise IngestError(f"{value!r} is not a number", location=location, code=DATA_TYPE)
    as_float = float(value)
    return int(as_float) if "." not in value and as_float.is_integer() else as_float

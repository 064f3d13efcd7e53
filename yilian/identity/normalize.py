"""A Patient resource -> the normalised features the matcher compares (one flat dict, JSON-ready).

The same dict is a row for Splink (DuckDB) and the input of the real-time scorer, so both paths see one
normalisation. Keys:

- name_chars, family_chars, given_chars: the name in characters (None when typed in pinyin only)
- family_py, given_py: pinyin, canonical (see pinyin.py); name_keys: every order-independent pinyin key
  (all readings of a polyphonic given name, and a pinyin name given beside the characters)
- rid: the resident ID as typed (18 characters) and rid_ok (its check character is right); rid_state:
  ok | swapped | conflict | unknown, how the ID agrees with the record's own birth date and sex;
  rid14: region + birth date part (blocks mistyped IDs)
- birth (ISO), births ([birth, day and month swapped]), sex, phones (sorted), addr (road and number),
  addr_full
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from yilian.alliance.codes import RESIDENT_ID
from yilian.identity import pinyin, resident_id

RESIDENT_ID_SYSTEMS = frozenset({RESIDENT_ID, "urn:oid:2.16.156.10011.1.5"})  # and an older OID in use
_ADMIN_PREFIX = re.compile(r"^(.{2,9}?(省|自治区))?(.{2,9}?(市|自治州|地区|盟))?(.{1,9}?(区|县|旗))?")
_SUBDISTRICT = re.compile(r"^.{1,9}?(街道|镇|乡)")
_NUMBER = re.compile(r"^(.*?\d+号)")


def features(patient: dict) -> dict:
    """The matching features of a Patient resource."""
    f: dict = {}
    f.update(_name_features(patient.get("name") or []))
    f.update(_birth_and_sex(patient))
    f.update(_id_features(patient.get("identifier") or [], f["birth"], f["sex"], f.get("placeholder_name")))
    f["phones"] = phones(patient.get("telecom") or []) or None
    f["addr"], f["addr_full"] = address(patient.get("address") or [])
    return f


# ---- names


def _name_features(names: list[dict]) -> dict:
    chinese = next((n for n in _ordered(names) if pinyin.has_cjk(_text(n))), None)
    latin = next((n for n in _ordered(names) if _text(n) and not pinyin.has_cjk(_text(n))), None)
    out = dict.fromkeys(("name_chars", "family_chars", "given_chars", "family_py", "given_py"))
    keys: list[str] = []
    if chinese is not None and is_placeholder(_text(chinese)):
        # 王芳之女: a newborn registered under the mother's name has no name of its own yet
        out["placeholder_name"] = "child" if is_child_placeholder(_text(chinese)) else True
        chinese = None
    if chinese is not None:
        family, given = _chinese_parts(chinese)
        out.update(name_chars=family + given, family_chars=family, given_chars=given or None)
        out["family_py"] = pinyin.surname_pinyin(family) if family else None
        readings = pinyin.given_pinyins(given) if given else ("",)
        out["given_py"] = readings[0] or None
        keys += [k for r in readings if (k := pinyin.name_key(out["family_py"], r))]
    if latin is not None:
        family_py, given_py = _latin_parts(latin)
        if chinese is None:
            out.update(family_py=family_py, given_py=given_py or None)
        if k := pinyin.name_key(family_py, given_py):
            keys.append(k)
    out["name_keys"] = list(dict.fromkeys(keys)) or None
    out["name_key"] = keys[0] if keys else None
    return out


CHILD_PLACEHOLDERS = ("之子", "之女", "之婴", "婴儿", "新生儿")  # someone's baby, not yet named
PLACEHOLDERS = (*CHILD_PLACEHOLDERS, "无名氏", "不详", "未知")


def is_placeholder(text: str) -> bool:
    return any(p in text for p in PLACEHOLDERS)


def is_child_placeholder(text: str) -> bool:
    return any(p in text for p in CHILD_PLACEHOLDERS)


def _ordered(names: list[dict]) -> list[dict]:
    """Official and usual names first; old and maiden names last."""
    rank = {"official": 0, "usual": 1, None: 2, "nickname": 3, "anonymous": 4, "old": 5, "maiden": 6}
    return sorted(names, key=lambda n: rank.get(n.get("use"), 2))


def _text(name: dict) -> str:
    return name.get("text") or ((name.get("family") or "") + "".join(name.get("given") or []))


def _chinese_parts(name: dict) -> tuple[str, str]:
    family = pinyin.cjk_only(name.get("family"))
    given = pinyin.cjk_only("".join(name.get("given") or []))
    if family:
        return family, given
    return pinyin.split_chinese(pinyin.cjk_only(name.get("text")))


def _latin_parts(name: dict) -> tuple[str | None, str | None]:
    if name.get("family"):
        return pinyin.canon(name["family"]), pinyin.canon(" ".join(name.get("given") or [])) or None
    family, given = pinyin.split_latin(name.get("text") or " ".join(name.get("given") or []))
    return family, given or None


# ---- birth date, sex, resident ID


def _birth_and_sex(patient: dict) -> dict:
    birth = iso_date(patient.get("birthDate"))
    sex = patient.get("gender") if patient.get("gender") in ("male", "female") else None
    return {"birth": birth, "sex": sex, "births": _births(birth)}


def iso_date(value: object) -> str | None:
    """A full FHIR date (YYYY-MM-DD) as is; partial or impossible dates are not compared."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def swap_day_month(birth: str | None) -> str | None:
    if not birth or birth[5:7] == birth[8:10] or int(birth[8:10]) > 12:
        return None
    return f"{birth[:4]}-{birth[8:10]}-{birth[5:7]}"


def _births(birth: str | None) -> list[str] | None:
    if not birth:
        return None
    other = swap_day_month(birth)
    return [birth, other] if other else [birth]


def _id_features(
    identifiers: list[dict], birth: str | None, sex: str | None, placeholder: object = None
) -> dict:
    raw = next((i.get("value") for i in identifiers if is_resident_id(i)), None)
    parsed = resident_id.parse(raw)
    if parsed is None:
        return {"rid": None, "rid_ok": None, "rid_state": None, "rid14": None}
    state = resident_id.consistency(parsed, birth, sex) if parsed.valid else "invalid"
    if placeholder == "child":  # 王芳之女 holds the mother's ID, even with no birth date to show it
        state = "conflict"
    if state == "conflict":  # someone else's ID (a newborn's record under the mother's): not evidence
        return {"rid": None, "rid_ok": None, "rid_state": state, "rid14": None, "guardian_rid": parsed.value}
    return {"rid": parsed.value, "rid_ok": parsed.valid, "rid_state": state, "rid14": parsed.value[:14]}


def is_resident_id(identifier: dict) -> bool:
    if identifier.get("system") in RESIDENT_ID_SYSTEMS:
        return True
    codes = {c.get("code") for c in (identifier.get("type") or {}).get("coding") or []}
    return "NI" in codes or (identifier.get("type") or {}).get("text") == "居民身份证"


# ---- phones and addresses


def phones(telecom: list[dict]) -> list[str]:
    out = set()
    for t in telecom:
        if t.get("system") in ("phone", "sms") and (number := phone(t.get("value"))):
            out.add(number)
    return sorted(out)


def phone(value: object) -> str | None:
    """Digits only, without the country code; None for what cannot be a real number."""
    if not isinstance(value, str):
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 12):
            digits = digits[len(prefix) :]
    if len(digits) < 7 or len(set(digits[-7:])) == 1:
        return None
    return digits


def address(addresses: list[dict]) -> tuple[str | None, str | None]:
    """(road and number, whole address) of the home address, without province, city and district."""
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else None)
    if home is None:
        return None, None
    text = "".join(home.get("line") or []) or home.get("text") or ""
    text = re.sub(r"[\s,，、.。()（）#-]", "", unicodedata.normalize("NFKC", text))
    for part in (home.get("state"), home.get("city"), home.get("district")):
        if part and text.startswith(part):
            text = text[len(part) :]
    text = _ADMIN_PREFIX.sub("", text) if re.match(r".{2,9}?(省|市)", text) else text
    text = _SUBDISTRICT.sub("", text)
    if not text:
        return None, None
    number = _NUMBER.match(text)
    return (number.group(1) if number else text), text

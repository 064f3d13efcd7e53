"""The 18-character resident ID (GB 11643-1999): its check character, and what it says about its holder.

An ID is 6 digits of region, 8 of birth date, 3 of sequence (odd: male) and an ISO 7064 MOD 11-2 check
character. The check catches every single-digit typo and every adjacent transposition, so two different
*valid* IDs are two different people. The region is only a soft signal: codes are historical (a person
keeps the code of where they were first registered, even after the county was renamed), so we check the
province part is plausible and never reject an ID for an unknown county.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9...
CHECK = "10X98765432"
# First two digits: provinces (GB/T 2260), plus 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]  # noqa: SIM905 - a dense table reads better as one string
)


def check_char(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class ResidentId:
    value: str  # normalised: 18 characters, upper-case X
    valid: bool  # the check character is right and the birth date is a real date
    birth: str | None  # ISO date read out of the ID (None when not a real date)
    sex: str | None  # male | female, from the sequence number's parity
    region: str
    plausible_region: bool  # the province part is a real province (a soft signal only)


def parse(raw: object) -> ResidentId | None:
    """The ID's parts, or None when it is not even 17 digits and a check character."""
    if not isinstance(raw, str):
        return None
    s = raw.strip().replace(" ", "").upper()
    if len(s) != 18 or not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        return None
    birth = _date(s[6:14])
    sex = "male" if int(s[16]) % 2 else "female"
    valid = birth is not None and s[17] == check_char(s[:17])
    return ResidentId(s, valid, birth, sex, s[:6], s[:2] in PROVINCES)


def _date(digits: str) -> str | None:
    try:
        d = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return d.isoformat() if 1880 <= d.year <= 2100 else None


def near(a: str, b: str) -> bool:
    """One digit different, or two adjacent characters swapped: what a valid ID looks like mistyped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def consistency(rid: ResidentId, birth: str | None, sex: str | None) -> str:
    """How the ID agrees with the record it is on: 'ok'; 'swapped' or 'typo' (the record's birth date has
    day and month swapped, or one part mistyped); 'conflict' (another person's ID: a newborn registered
    under the mother's, a parent's ID on a child's card); 'unknown' (nothing to compare)."""
    if not rid.valid or (birth is None and sex is None):
        return "unknown"
    if birth is not None and birth != rid.birth:
        if rid.birth and swapped(birth, rid.birth):
            return "swapped"
        if not (rid.birth and one_part(birth, rid.birth)):
            return "conflict"
    if sex is not None and sex != rid.sex:
        return "sex-conflict"  # a wrong sex, or a child under a parent's ID: the pair goes to review
    return "typo" if birth is not None and birth != rid.birth else "ok"


def one_part(a: str, b: str) -> bool:
    """Two ISO dates that differ in one of year, month and day only."""
    return a[:7] == b[:7] or (a[:4] == b[:4] and a[8:] == b[8:]) or a[5:] == b[5:]


def swapped(a: str, b: str) -> bool:
    """Same year, and a's month and day are b's day and month (10 March typed as 3 October)."""
    return a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7] and a != b

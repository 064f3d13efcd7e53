"""Synthetic residents of 滨江市: names, resident IDs, phones, addresses and households.

A person here is the real resident; how each member registered them is in registrations. Households
share an address and often a home phone, children share a parent's mobile, and twins share a birth
date and have consecutive resident-ID sequence numbers, which is what makes linkage hard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from yilian.demo import names
from yilian.demo.feed import TODAY

# --- resident ID (GB 11643-1999) ----------------------------------------------------------------

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # ISO 7064 MOD 11-2 weights 7, 9, 10, 5...
_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (0-9 or X) for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a resident ID body is 17 digits")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_resident_id(s: object) -> bool:
    """18 characters, a real birth date, and the right check character (a lower-case x is accepted)."""
    if not isinstance(s, str) or len(s) != 18 or not s[:17].isdigit():
        return False
    try:
        date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return s[17].upper() == resident_id_check_char(s[:17])


# Real county-level codes (GB/T 2260). The fictional 滨江市 borrows Hangzhou's 滨江区, 330108.
HOME_REGION = "330108"
# fmt: off
REGION_CODES = ("330106", "330102", "310105", "320102", "340104", "360102", "410105", "420106",
                "430102", "440305", "510104", "110105")
# fmt: on

# --- addresses: the four sub-districts, each served by its community health centre ---------------

PROVINCE, CITY, DISTRICT, POSTCODE = "浙江省", "滨江市", "滨江区", "310051"
STREETS: dict[str, tuple[str, ...]] = {
    "长宁街道": ("江南大道", "滨盛路", "长宁路"),
    "西兴街道": ("西兴路", "江晖路", "闻涛路"),
    "浦沿街道": ("浦沿路", "东信大道", "信诚路"),
    "长河街道": ("长河路", "春波路", "江虹路"),
}
ESTATES = ("阳光花园", "江景苑", "东方郡", "春江花月", "金色家园", "锦绣华庭", "白马公寓", "滨和小区")
# fmt: off
MOBILE_PREFIXES = ("130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                   "157", "158", "159", "170", "176", "177", "180", "181", "186", "187", "188", "189",
                   "191", "198", "199")
# fmt: on


@dataclass(frozen=True)
class Address:
    street: str
    road: str
    number: int
    estate: str
    building: int
    unit: int
    room: int

    def line(self, short: bool = False) -> str:
        """Hospitals often take only the road and number; the community centre keeps the flat."""
        base = f"{self.street}{self.road}{self.number}号"
        return base if short else f"{base}{self.estate}{self.building}幢{self.unit}单元{self.room}室"

    def resource(self, short: bool = False) -> dict:
        line = self.line(short)
        return {
            "use": "home",
            "type": "physical",
            "text": f"{PROVINCE}{CITY}{DISTRICT}{line}",
            "line": [line],
            "city": CITY,
            "district": DISTRICT,
            "state": PROVINCE,
            "postalCode": POSTCODE,
            "country": "CN",
        }


@dataclass
class Person:
    key: str
    family: str
    given: str
    sex: str  # FHIR administrative gender: male | female
    birth: date
    resident_id: str
    mobile: str | None
    home_phone: str | None
    address: Address
    household: str
    height_cm: float
    bmi: float
    old_mobile: str | None = None
    pregnant: bool = False

    @property
    def name(self) -> str:
        return self.family + self.given

    def age(self, on: date = TODAY) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


# --- households ----------------------------------------------------------------------------------

_KINDS = ("elder_single", "elder_couple", "middle_couple", "family", "young_couple", "single_adult")
_KIND_WEIGHTS = (18, 26, 20, 14, 8, 14)  # chronic care first: most people are 35-85


class _Census:
    """Draws people while keeping resident IDs and mobile numbers unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.mobiles: set[str] = set()
        self.people: list[Person] = []
        self.families = 0

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.mobiles:
                self.mobiles.add(number)
                return number

    def resident_id(self, birth: date, sex: str, local: bool, after: str | None = None) -> str:
        """A fresh valid ID; `after` (a twin's ID) gives the next sequence number of the same parity."""
        rng = self.rng
        while True:
            if after:
                region, seq = after[:6], int(after[14:17]) + 1
                seq += (seq % 2 == 1) != (sex == "male")
            else:
                region = HOME_REGION if local or rng.random() < 0.6 else rng.choice(REGION_CODES)
                seq = 2 * rng.randrange(1, 490) + (sex == "male")
            body = f"{region}{birth:%Y%m%d}{seq:03d}"
            rid = body + resident_id_check_char(body)
            if rid not in self.ids:
                self.ids.add(rid)
                return rid
            after = None

    def person(
        self,
        household: str,
        address: Address,
        age: int,
        sex: str,
        *,
        family: str | None = None,
        birth: date | None = None,
        mobile: str | None = None,
        home: str | None = None,
        twin_of: Person | None = None,
    ) -> Person:
        rng = self.rng
        # at least 100 days old: a newborn is registered at the community centre in its first month
        birth = birth or TODAY - timedelta(days=max(100, int((age + rng.random()) * 365.25)))
        child = age < 14
        rid = self.resident_id(birth, sex, child, twin_of.resident_id if twin_of else None)
        given = names.draw_given(rng, birth.year, sex)
        while twin_of and given == twin_of.given:
            given = names.draw_given(rng, birth.year, sex)
        if mobile is None and not child and (age < 75 or rng.random() < 0.8):
            mobile = self.mobile()
        p = Person(
            key=f"P{len(self.people) + 1:04d}",
            family=family or names.draw_surname(rng),
            given=given,
            sex=sex,
            birth=birth,
            resident_id=rid,
            mobile=mobile,
            home_phone=home,
            address=address,
            household=household,
            height_cm=_height(rng, (TODAY - birth).days / 365.25, sex),
            bmi=_bmi(rng, age),
        )
        if not child and p.mobile and rng.random() < 0.3:
            p.old_mobile = self.mobile()  # changed number; some member still has the old one
        self.people.append(p)
        return p


def _height(rng: random.Random, age: float, sex: str) -> float:
    if age < 1:
        return round(50 + 25 * age + rng.uniform(-2, 2), 1)
    if age < 14:
        return round(75 + 6.3 * (age - 1) + rng.uniform(-4, 4), 1)
    mean = 170.0 if sex == "male" else 158.5
    return round(rng.gauss(mean - (3 if age >= 65 else 0), 5.5), 1)


def _bmi(rng: random.Random, age: int) -> float:
    return round(rng.gauss(16.5, 1.2) if age < 14 else rng.gauss(24.0, 3.0), 1)


def _address(rng: random.Random) -> Address:
    street = rng.choice(list(STREETS))
    return Address(
        street,
        rng.choice(STREETS[street]),
        rng.randrange(1, 900),
        rng.choice(ESTATES),
        rng.randrange(1, 25),
        rng.randrange(1, 5),
        100 * rng.randrange(1, 19) + rng.randrange(1, 5),
    )


def _household(census: _Census, index: int) -> None:
    rng = census.rng
    kind = rng.choices(_KINDS, weights=_KIND_WEIGHTS)[0]
    hh, address = f"H{index:03d}", _address(rng)
    home = f"0571-8{rng.randrange(10**7):07d}" if rng.random() < 0.6 else None
    if kind in ("elder_single", "single_adult"):
        age = rng.randint(65, 92) if kind == "elder_single" else rng.randint(35, 70)
        census.person(hh, address, age, rng.choice(("male", "female")), home=home)
        return
    lo, hi = {
        "elder_couple": (62, 88),
        "middle_couple": (45, 64),
        "family": (30, 48),
        "young_couple": (24, 36),
    }[kind]
    husband_age = rng.randint(lo, hi)
    wife_age = max(lo, min(hi, husband_age + rng.randint(-6, 2)))
    husband = census.person(hh, address, husband_age, "male", home=home)
    wife = census.person(hh, address, wife_age, "female", home=home)
    if kind == "young_couple":
        wife.pregnant = rng.random() < 0.7
    elif kind == "family":
        _children(census, hh, address, home, husband, wife_age)


def _children(
    census: _Census, hh: str, address: Address, home: str | None, father: Person, mother_age: int
) -> None:
    """Children take the father's surname and share a parent's mobile; every third family has twins."""
    rng = census.rng
    census.families += 1
    twins = census.families % 3 == 1
    parent_mobile = father.mobile or census.mobile()
    first = census.person(
        hh,
        address,
        rng.randint(0, min(13, mother_age - 23)),
        rng.choice(("male", "female")),
        family=father.family,
        mobile=parent_mobile,
        home=home,
    )
    if twins:
        census.person(
            hh,
            address,
            first.age(),
            rng.choice(("male", "female")),
            family=father.family,
            birth=first.birth,
            mobile=parent_mobile,
            home=home,
            twin_of=first,
        )
    elif rng.random() < 0.4:
        census.person(
            hh,
            address,
            rng.randint(0, min(13, mother_age - 23)),
            rng.choice(("male", "female")),
            family=father.family,
            mobile=parent_mobile,
            home=home,
        )


def build_people(rng: random.Random, count: int) -> list[Person]:
    """`count` residents in households; the last household may be cut short to hit the count."""
    census = _Census(rng)
    index = 0
    while len(census.people) < count:
        index += 1
        _household(census, index)
    return census.people[:count]

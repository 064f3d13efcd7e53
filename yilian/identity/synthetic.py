"""A larger, harder synthetic population for accuracy and speed work, with the truth.

Residents live in households: couples, families whose children share a parent's mobile and the home
phone, twins with the same birth date and address (often with a shared generation character, 建国 and
建军), and newborns registered at the community centre under the mother's resident ID (as 王芳之女, or
under their own name) before they have one. No child is named after a parent or a sibling (as in life:
an identical name in one household would make two people indistinguishable on a record without birth
date or ID). Each resident is registered at one to four members, and each registration may differ: no
resident ID, a mistyped one (wrong check character, or two digits swapped), a name typed in pinyin
(sometimes in English order), a homophone typo, day and month swapped, an old phone, a short address, a
move. A pure function of (size, seed); a million records in under a minute.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from yilian.alliance.codes import HEALTH_RECORD_OID_ROOT, RESIDENT_ID
from yilian.demo import names
from yilian.demo.people import MOBILE_PREFIXES, REGION_CODES, resident_id_check_char

TODAY = date(2026, 11, 24)
MEMBERS = ("m-tertiary-1", "m-secondary-1", "m-secondary-2", "m-community-1", "m-community-2",
           "m-community-3", "m-community-4")  # fmt: skip
STREETS = ("长宁街道", "西兴街道", "浦沿街道", "长河街道")
ROADS = ("江南大道", "滨盛路", "长宁路", "西兴路", "江晖路", "闻涛路", "浦沿路", "东信大道", "信诚路",
         "长河路", "春波路", "江虹路", "滨文路", "火炬大道", "之江路", "月明路")  # fmt: skip
ESTATES = ("阳光花园", "江景苑", "东方郡", "春江花月", "金色家园", "锦绣华庭", "白马公寓", "滨和小区",
           "钱塘府", "星耀城", "万家花城", "水岸枫情")  # fmt: skip
# Given-name characters by sex (the demo's name tables, which carry their pinyin).
_MALE = "建国强德明振华志刚林福生永发文斌树森庆军卫保伟磊勇杰涛辉鹏海晓东立新浩宇子轩俊博一鸣天佑思远梓豪家乐"
_FEMALE = "秀英桂玉兰淑珍凤素芬美月娥金芳娜敏静丽艳霞红梅燕雪春欣怡涵雨桐诺诗彤佳萱可馨婷琳晓海丽"
RATES = {  # chance per registration after the first
    "no_id": 0.12, "bad_check": 0.02, "id_swap": 0.005, "pinyin": 0.08, "english_order": 0.3,
    "homophone": 0.05, "swap_dm": 0.015, "no_birth": 0.01, "old_phone": 0.1, "no_phone": 0.08,
    "short_address": 0.4, "moved": 0.04,
}  # fmt: skip
REGISTRATIONS = ((1, 0.45), (2, 0.30), (3, 0.18), (4, 0.07))


@dataclass
class Resident:
    key: str
    family: str
    given: str
    sex: str
    birth: date
    rid: str | None  # None: a newborn without an ID yet
    mobile: str | None
    home: str | None
    address: tuple[str, str, int, str, int, int, int]
    old_mobile: str | None = None
    mother: Resident | None = None  # for a newborn registered under the mother's ID


@dataclass
class Population:
    patients: list[tuple[str, dict]]  # (member id, Patient with an id)
    truth: dict[str, str]  # Patient id -> resident key
    residents: int


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.people: list[Resident] = []

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def rid(self, birth: date, sex: str, after: str | None = None) -> str:
        rng = self.rng
        while True:
            if after:  # a twin: the next sequence number of the right parity
                region, seq = after[:6], int(after[14:17]) + 1
                seq += (seq % 2 == 1) != (sex == "male")
                after = None
            else:
                region = "330108" if rng.random() < 0.6 else rng.choice(REGION_CODES)
                seq = 2 * rng.randrange(1, 490) + (sex == "male")
            body = f"{region}{birth:%Y%m%d}{seq % 1000:03d}"
            value = body + resident_id_check_char(body)
            if value not in self.ids:
                self.ids.add(value)
                return value

    def given(self, sex: str, share: str | None = None) -> str:
        pool = _MALE if sex == "male" else _FEMALE
        if share:
            return share + self.rng.choice(pool)
        return "".join(self.rng.choice(pool) for _ in range(self.rng.choice((1, 2, 2, 2))))

    def _unused_given(self, sex: str, taken: set[str], share: str | None = None) -> str:
        """A given name no one in the household has yet (and now taken)."""
        given = self.given(sex, share)
        while given in taken:
            given = self.given(sex, share)
        taken.add(given)
        return given

    def person(
        self,
        address,
        sex: str,
        birth: date,
        *,
        family: str | None = None,
        mobile: str | None = None,  # noqa: ANN001
        home: str | None = None,
        twin_of: Resident | None = None,
        given: str | None = None,
    ) -> Resident:
        rng = self.rng
        child = (TODAY - birth).days < 14 * 365
        if mobile is None and not child:
            mobile = self.mobile()
        p = Resident(
            f"R{len(self.people) + 1:07d}",
            family or names.draw_surname(rng),
            given or self.given(sex),
            sex,
            birth,
            self.rid(birth, sex, twin_of.rid if twin_of and twin_of.rid else None),
            mobile,
            home,
            address,
        )
        if not child and rng.random() < 0.25:
            p.old_mobile = self.mobile()
        self.people.append(p)
        return p

    def address(self) -> tuple[str, str, int, str, int, int, int]:
        r = self.rng
        return (
            r.choice(STREETS),
            r.choice(ROADS),
            r.randrange(1, 900),
            r.choice(ESTATES),
            r.randrange(1, 30),
            r.randrange(1, 5),
            100 * r.randrange(1, 25) + r.randrange(1, 5),
        )

    def birth(self, lo: int, hi: int) -> date:
        return TODAY - timedelta(days=self.rng.randrange(lo * 365, hi * 365 + 364))

    def household(self) -> None:
        rng = self.rng
        addr, home = self.address(), (f"0571-8{rng.randrange(10**7):07d}" if rng.random() < 0.5 else None)
        kind = rng.choices(("single", "couple", "family"), weights=(25, 35, 40))[0]
        if kind == "single":
            self.person(addr, rng.choice(("male", "female")), self.birth(20, 90), home=home)
            return
        father = self.person(addr, "male", self.birth(25, 85), home=home)
        mother = self.person(
            addr, "female", father.birth + timedelta(days=rng.randrange(-2000, 1500)), home=home
        )
        if kind == "family":
            self.children(father, mother, addr, home)

    def children(self, father: Resident, mother: Resident, addr, home: str | None) -> None:  # noqa: ANN001
        rng = self.rng
        phone = mother.mobile or father.mobile
        taken = {father.given, mother.given}  # a child is never named after a parent or a sibling
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            sex = rng.choice(("male", "female"))
            newborn = rng.random() < 0.03
            birth = TODAY - timedelta(days=rng.randrange(20, 330)) if newborn else self.birth(1, 17)
            given = self._unused_given(sex, taken)
            child = self.person(addr, sex, birth, family=father.family, mobile=phone, home=home, given=given)
            if newborn and rng.random() < 0.6:
                self.ids.discard(child.rid)
                child.rid, child.mother = None, mother
            if rng.random() < 0.12:  # twins: same birth date, consecutive IDs, often a generation name
                share = child.given[0] if len(child.given) == 2 and rng.random() < 0.4 else None
                twin_sex = rng.choice(("male", "female"))
                twin_given = self._unused_given(twin_sex, taken, share)
                twin = self.person(
                    addr,
                    twin_sex,
                    birth,
                    family=father.family,
                    mobile=phone,
                    home=home,
                    twin_of=child,
                    given=twin_given,
                )
                if child.rid is None:
                    self.ids.discard(twin.rid)
                    twin.rid, twin.mother = None, mother


def build_population(records: int, seed: int = 7) -> Population:
    """About `records` Patients (a registration is never cut short), with the truth."""
    maker = _Maker(seed)
    rng = maker.rng
    patients: list[tuple[str, dict]] = []
    truth: dict[str, str] = {}
    counters = dict.fromkeys(MEMBERS, 0)
    done = 0
    while len(patients) < records:
        maker.household()
        for person in maker.people[done:]:
            count = rng.choices([n for n, _ in REGISTRATIONS], weights=[w for _, w in REGISTRATIONS])[0]
            for i, member in enumerate(rng.sample(MEMBERS, count)):
                counters[member] += 1
                pid = f"{member}-{counters[member]}"
                patients.append((member, _patient(rng, person, member, pid, first=i == 0)))
                truth[pid] = person.key
        done = len(maker.people)
    return Population(patients, truth, len(maker.people))


# ---- one registration


def _patient(rng: random.Random, p: Resident, member: str, pid: str, first: bool) -> dict:
    def chance(kind: str) -> bool:
        return not first and rng.random() < RATES[kind]

    number = int(pid.rsplit("-", 1)[1])
    identifiers = [
        {
            "use": "usual",
            "type": {"coding": [{"code": "MR"}], "text": "病案号"},
            "system": f"urn:oid:{HEALTH_RECORD_OID_ROOT}.{MEMBERS.index(member) + 1}",
            "value": f"{number:09d}",
        }
    ]
    rid = p.rid or (p.mother.rid if p.mother else None)
    if rid and not chance("no_id"):
        if chance("bad_check"):
            rid = _mistype(rng, rid)
        elif chance("id_swap"):
            i = rng.randrange(6, 16)
            rid = rid[:i] + rid[i + 1] + rid[i] + rid[i + 2 :]
        identifiers.append(
            {
                "use": "official",
                "type": {"coding": [{"code": "NI"}], "text": "居民身份证"},
                "system": RESIDENT_ID,
                "value": rid,
            }
        )
    patient: dict = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": identifiers,
        "active": True,
        "name": [_name(rng, p, chance)],
        "gender": p.sex,
    }
    birth = p.birth.isoformat()
    if chance("swap_dm") and p.birth.day <= 12 and p.birth.day != p.birth.month:
        birth = f"{p.birth.year}-{p.birth.day:02d}-{p.birth.month:02d}"
    if not chance("no_birth"):
        patient["birthDate"] = birth
    telecom = []
    mobile = p.old_mobile if p.old_mobile and chance("old_phone") else p.mobile
    if mobile and not chance("no_phone"):
        telecom.append({"system": "phone", "value": mobile, "use": "mobile"})
    if p.home:
        telecom.append({"system": "phone", "value": p.home, "use": "home"})
    if telecom:
        patient["telecom"] = telecom
    street, road, no, estate, building, unit, room = p.address
    if chance("moved"):
        street, road, no = rng.choice(STREETS), rng.choice(ROADS), rng.randrange(1, 900)
    line = f"{street}{road}{no}号" + (
        "" if chance("short_address") else f"{estate}{building}幢{unit}单元{room}室"
    )
    patient["address"] = [
        {"use": "home", "line": [line], "city": "滨江市", "district": "滨江区", "state": "浙江省"}
    ]
    return patient


def _mistype(rng: random.Random, rid: str) -> str:
    """One digit of the body changed: the check character no longer fits."""
    i = rng.randrange(0, 17)
    digit = rng.choice([d for d in "0123456789" if d != rid[i]])
    return rid[:i] + digit + rid[i + 1 :]


def _name(rng: random.Random, p: Resident, chance) -> dict:  # noqa: ANN001
    if p.mother is not None and rng.random() < 0.5:  # a newborn under the mother's name
        text = p.mother.family + p.mother.given + ("之子" if p.sex == "male" else "之女")
        return {"use": "official", "text": text}
    if chance("pinyin"):
        family = names.surname_pinyin(p.family)
        given = names.given_pinyin(p.given) if all(c in names.PINYIN for c in p.given) else p.given
        text = f"{given} {family}" if rng.random() < RATES["english_order"] else f"{family} {given}"
        return {"use": "usual", "text": text}
    given = (names.typo(p.given, rng) if chance("homophone") else None) or p.given
    return {"use": "official", "text": p.family + given, "family": p.family, "given": [given]}

"""The demo alliance: 滨江市城市医疗集团, its eight members, and what each member sends.

`build_demo_alliance` is a pure function of (patients, seed): one random.Random, a fixed "today",
uuid5 fullUrls, so the same arguments give byte-identical JSON. Organizations are returned apart
from the feeds because they are loaded first and referenced as Organization/<id>.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from yilian.alliance.codes import (
    ALLIANCE_MODEL,
    ALLIANCE_MODEL_EXT,
    ALLIANCE_MODELS,
    BASE,
    MEMBER_TYPE,
    MEMBER_TYPES,
)
from yilian.demo.care import COMMUNITY, record_care, route_events
from yilian.demo.clinical import Ctx, Health, Site, draw_health
from yilian.demo.feed import FeedBuilder, coding, concept, demo_namespace
from yilian.demo.people import (
    CITY,
    DISTRICT,
    HOME_REGION,
    POSTCODE,
    PROVINCE,
    Person,
    build_people,
)
from yilian.demo.registrations import Registration, add_variations, patient_resource
from yilian.demo.staff import roster, roster_bundle

ALLIANCE_ID = "alliance-binjiang"
USCC_SYSTEM = f"{BASE}/NamingSystem/uscc"  # 统一社会信用代码 (GB 32100-2015)


@dataclass(frozen=True)
class MemberDef:
    id: str
    number: int  # the member's node under the health-record OID root
    kind: str  # MEMBER_TYPE code
    name: str
    alias: str
    road: str
    departments: tuple[str, ...]
    street: str | None = None  # the sub-district a community centre serves


_HOSPITAL_DEPTS = ("emergency", "radiology", "laboratory", "pediatrics")


def _community(n: int, street: str, pinyin: str, road: str) -> MemberDef:
    """A community health centre is named after the sub-district (街道) it serves."""
    return MemberDef(
        f"m-community-{n}",
        3 + n,
        COMMUNITY,
        f"{street}社区卫生服务中心",
        f"{pinyin} Subdistrict Community Health Centre",
        road,
        ("gp", "gp", "nursing", "public_health"),
        street,
    )


# fmt: off
MEMBERS: tuple[MemberDef, ...] = (
    MemberDef("m-tertiary-1", 1, "tertiary-hospital", "滨江市第一人民医院",
              "Binjiang First People's Hospital", "江南大道1号",
              ("cardiology", "endocrinology", "respiratory", "neurology", "nephrology", *_HOSPITAL_DEPTS)),
    MemberDef("m-secondary-1", 2, "secondary-hospital", "滨江区中医院",
              "Binjiang District Hospital of Traditional Chinese Medicine", "滨盛路258号",
              ("tcm", "respiratory", "obstetrics", *_HOSPITAL_DEPTS)),
    MemberDef("m-secondary-2", 3, "secondary-hospital", "滨江区人民医院",
              "Binjiang District People's Hospital", "江虹路88号",
              ("internal", "cardiology", "endocrinology", "obstetrics", *_HOSPITAL_DEPTS)),
    _community(1, "长宁街道", "Changning", "长宁路36号"),
    _community(2, "西兴街道", "Xixing", "西兴路120号"),
    _community(3, "浦沿街道", "Puyan", "浦沿路66号"),
    _community(4, "长河街道", "Changhe", "长河路9号"),
    MemberDef("m-public-health-1", 8, "public-health", "滨江区疾病预防控制中心",
              "Binjiang District Center for Disease Control and Prevention", "春波路18号",
              ("public_health",)),
)
# fmt: on


@dataclass
class DemoAlliance:
    """Load `alliance` and `members` first, then post each feed as its member (after its roster: each
    member's staff, which its staff system sends first; see demo/feeds.py).

    `truth` (which local records are the same person) is kept aside for scoring record linkage.
    """

    alliance: dict  # type "alliance", extension alliance-model = "city-medical-group"
    members: list[dict]  # member Organizations, loaded before the feeds
    feeds: list[tuple[str, dict]]  # (member id, transaction Bundle): one per patient per member
    truth: dict[str, list[tuple[str, str]]]  # person key -> [(member id, local Patient id = MRN)]
    rosters: list[tuple[str, dict]]  # (member id, Bundle of its staff: Practitioner + PractitionerRole)


# --- organisations --------------------------------------------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(rng: random.Random, region: str = HOME_REGION) -> str:
    """A well-formed 统一社会信用代码 of a public institution (事业单位, "12"), check characters right."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    c9 = 11 - sum(int(ch) * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    org_code = body + {10: "X", 11: "0"}.get(c9, str(c9))
    first17 = f"12{region}{org_code}"
    total = sum(_USCC_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(first17))
    return first17 + _USCC_CHARS[(31 - total % 31) % 31]


def _address(road: str) -> dict:
    return {
        "use": "work",
        "type": "physical",
        "text": f"{PROVINCE}{CITY}{DISTRICT}{road}",
        "line": [road],
        "city": CITY,
        "district": DISTRICT,
        "state": PROVINCE,
        "postalCode": POSTCODE,
        "country": "CN",
    }


def _organization(rng: random.Random, org_id: str, kind: str, name: str, alias: str, road: str) -> dict:
    zh, en = MEMBER_TYPES[kind]
    return {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [
            {
                "use": "official",
                "type": concept(text="统一社会信用代码"),
                "system": USCC_SYSTEM,
                "value": uscc(rng),
            }
        ],
        "active": True,
        "type": [concept(coding(MEMBER_TYPE, kind, zh), text=zh)],
        "name": name,
        "alias": [alias],
        "telecom": [{"system": "phone", "value": f"0571-8{rng.randrange(10**7):07d}", "use": "work"}],
        "address": [_address(road)],
    }


def alliance_organization(rng: random.Random) -> dict:
    org = _organization(
        rng, ALLIANCE_ID, "alliance", "滨江市城市医疗集团", "Binjiang City Medical Group", "江南大道1号"
    )
    zh, _ = ALLIANCE_MODELS["city-medical-group"]
    model = {"url": ALLIANCE_MODEL_EXT, "valueCoding": coding(ALLIANCE_MODEL, "city-medical-group", zh)}
    return {
        "resourceType": "Organization",
        "id": ALLIANCE_ID,
        "extension": [model],
        **{k: v for k, v in org.items() if k not in ("resourceType", "id")},
    }


def member_organization(rng: random.Random, m: MemberDef) -> dict:
    org = _organization(rng, m.id, m.kind, m.name, m.alias, m.road)
    org["partOf"] = {"reference": f"Organization/{ALLIANCE_ID}", "display": "滨江市城市医疗集团"}
    return org


# --- who goes where --------------------------------------------------------------------------------


def _members_for(rng: random.Random, person: Person, health: Health) -> list[MemberDef]:
    """Always the community centre of the person's sub-district; hospitals when they had care there."""
    community = next(m for m in MEMBERS if m.street == person.address.street)
    tertiary, district = MEMBERS[0], MEMBERS[1:3]
    chosen = [community]
    events = {kind for kind, _ in health.events}
    if health.has("chd") or health.has("stroke") or health.has("ckd") or rng.random() < 0.12:
        chosen.append(tertiary)
    wants_district = bool(events & {"copd", "urgency", "uri"}) or health.lmp is not None
    if wants_district or (
        (health.has("htn") or health.has("t2dm") or health.has("copd")) and rng.random() < 0.35
    ):
        chosen.append(rng.choice(district))
    return chosen


def _mrn(m: MemberDef, n: int) -> str:
    """Hospitals number patients (门诊号); community centres use 17-digit health-record numbers."""
    if m.kind == COMMUNITY:
        return f"{HOME_REGION}{m.number:03d}{n:08d}"
    return f"{m.number}{n:09d}"


def build_demo_alliance(patients: int = 60, seed: int = 20261124) -> DemoAlliance:
    rng = random.Random(seed)
    namespace = demo_namespace(seed)
    alliance = alliance_organization(rng)
    members = [member_organization(rng, m) for m in MEMBERS]
    sites = {
        m.id: Site(m.id, m.name, m.kind, tuple(roster(rng, m.id, m.name, m.departments))) for m in MEMBERS
    }
    counters = {m.id: 1000 + rng.randrange(9000) for m in MEMBERS}  # numbering did not start at the demo
    feeds: list[tuple[str, dict]] = []
    truth: dict[str, list[tuple[str, str]]] = {}
    for person in build_people(rng, patients):
        health = draw_health(rng, person)
        chosen = _members_for(rng, person, health)
        regs = []
        for m in chosen:
            counters[m.id] += rng.randint(1, 40)
            regs.append(Registration(person, m.id, m.name, m.number, _mrn(m, counters[m.id])))
        add_variations(rng, regs)
        routed = route_events(health, [m.kind for m in chosen])
        for reg, events in zip(regs, routed, strict=True):
            builder = FeedBuilder(namespace, reg.member_id, f"{reg.member_id}/{reg.mrn}")
            patient = builder.add(patient_resource(reg), if_none_exist=reg.conditional, head=True)
            record_care(Ctx(builder, rng, person, health, sites[reg.member_id], patient), events)
            feeds.append((reg.member_id, builder.bundle()))
            truth.setdefault(person.key, []).append((reg.member_id, reg.mrn))
    rosters = [(m.id, roster_bundle(namespace, m.id, sites[m.id].staff)) for m in MEMBERS]
    return DemoAlliance(alliance, members, feeds, truth, rosters)

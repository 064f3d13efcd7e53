"""Each member's feed in its own format: HL7 v2 messages from the hospitals, weekly CSV exports from the
community health centres (the district public-health system sends nothing clinical in the demo). Each
member's roster goes first: a staff master file (MFN^M02) from a hospital, a staff export from a centre.

`member_feeds` turns the alliance's generated care (FHIR Bundles, the truth) into what arrives, each
message with the time it arrives, ready for yilian.ingest: the demo is loaded through the same path
as real traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from yilian.demo.alliance import MEMBERS, DemoAlliance, MemberDef
from yilian.demo.care import COMMUNITY
from yilian.demo.emit_csv import community_rows, mapping_toml, staff_rows, weekly_exports
from yilian.demo.emit_hl7 import HospitalFeed, hospital_messages, staff_master_file
from yilian.demo.local_codes import code_tables
from yilian.ingest.csv.mapping import parse_mapping
from yilian.ingest.csv.reader import csv_items
from yilian.ingest.intake import hl7_items
from yilian.ingest.store import Incoming


@dataclass
class MemberFeed:
    member_id: str
    format: str  # hl7v2 | csv
    items: list[Incoming] = field(default_factory=list)
    mapping: str | None = None  # the CSV mapping TOML (community centres)
    codes: dict = field(default_factory=dict)  # code tables (hospitals)
    files: list[tuple[str, bytes, float]] = field(default_factory=list)  # the CSV exports as files


def sends_feed(m: MemberDef) -> bool:
    """The hospitals and the community centres; the district CDC sends nothing in the demo."""
    return m.kind != "public-health"


def member_feeds(alliance: DemoAlliance, seed: int = 0) -> list[MemberFeed]:
    by_member: dict[str, list[dict]] = {}
    for member_id, bundle in alliance.feeds:
        by_member.setdefault(member_id, []).append(bundle)
    rosters = dict(alliance.rosters)
    out = []
    for m in (m for m in MEMBERS if sends_feed(m)):
        rng = random.Random(f"{seed}/{m.id}")
        bundles = by_member.get(m.id, [])
        if m.kind == COMMUNITY:
            out.append(_community(m.id, m.number, rosters[m.id], bundles, rng))
        else:
            out.append(_hospital(m.id, rosters[m.id], bundles, rng))
    return out


def _hospital(member_id: str, roster: dict, bundles: list[dict], rng: random.Random) -> MemberFeed:
    feed = HospitalFeed(member_id, rng)
    staff_master_file(feed, roster)
    for bundle in bundles:
        hospital_messages(member_id, bundle, rng, feed)
    items = [
        hl7_items(s.text.encode("utf-8"), member=member_id, source="mllp:demo", received_at=s.sent_at)[0]
        for s in feed.out
    ]
    return MemberFeed(member_id, "hl7v2", items, codes=code_tables(member_id))


def _community(
    member_id: str, number: int, roster: dict, bundles: list[dict], rng: random.Random
) -> MemberFeed:
    rows: dict[str, list] = {}
    for bundle in bundles:
        for kind, items in community_rows(member_id, bundle).items():
            rows.setdefault(kind, []).extend(items)
    first = min((when for items in rows.values() for when, _ in items), default="2022-01-01")
    rows["staff"] = [(first, row) for row in staff_rows(member_id, roster)]  # in the first week's export
    toml_text = mapping_toml(member_id, number)
    mapping = parse_mapping(toml_text)
    files = weekly_exports(member_id, rows, rng)
    items = [
        item
        for name, data, arrival in files
        for item in csv_items(data, name, mapping, member_id, received_at=arrival)
    ]
    return MemberFeed(member_id, "csv", items, mapping=toml_text, files=files)

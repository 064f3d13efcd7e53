"""Seeding the demo alliance: members first, then each member's feed in its own format (HL7 v2 from the
hospitals, CSV exports from the community centres) through the ingest pipeline, as that member's
system, then the demo users. Everything goes through the router, as real traffic would."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import Progress

from yilian.demo.alliance import DemoAlliance, build_demo_alliance
from yilian.demo.consents import seed_consents
from yilian.demo.feeds import member_feeds
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller, operator
from yilian.gate.repository import Gate
from yilian.gate.users import User, add_user
from yilian.ingest.pipeline import ingest
from yilian.ingest.prepare import member_system
from yilian.ingest.service import register_mapping
from yilian.ingest.store import save_code_tables

__all__ = ["DEMO_USERS", "DemoSummary", "DemoUser", "load_demo", "member_system", "seed_users"]


@dataclass(frozen=True)
class DemoUser(User):
    token: str = ""


@dataclass
class DemoSummary:
    members: int = 0
    messages: int = 0
    rejected: int = 0
    resources: int = 0
    users: list[DemoUser] = field(default_factory=list)
    alliance: DemoAlliance | None = None  # with the linkage truth kept aside (alliance.truth)

    @property
    def bundles(self) -> int:  # the name before the feeds became HL7 v2 and CSV
        return self.messages


def load_demo(gate: Gate, *, patients: int, seed: int, console: Console | None = None) -> DemoSummary:
    alliance = build_demo_alliance(patients=patients, seed=seed)
    summary = DemoSummary(alliance=alliance)
    directory = [alliance.alliance, *alliance.members]
    _post(gate, operator(), [("PUT", f"Organization/{o['id']}", o) for o in directory])
    summary.members = len(alliance.members)
    feeds = member_feeds(alliance, seed)
    for feed in feeds:
        if feed.mapping:
            register_mapping(gate, feed.member_id, feed.mapping)
        else:
            save_code_tables(gate.engine, feed.member_id, feed.codes)
    items = [item for feed in feeds for item in feed.items]
    with Progress(console=console, transient=True, disable=console is None) as progress:
        task = progress.add_task("载入演示医联体 Ingesting the members' feeds", total=len(items))
        results = ingest(gate, items, on_progress=lambda n: progress.advance(task, n))
    summary.messages = len(results)
    summary.rejected = sum(r.status == "rejected" for r in results)
    summary.resources = sum(r.resources for r in results)
    seed_consents(gate, alliance.truth, seed, member_system)
    summary.users = seed_users(gate, alliance.members)
    return summary


def _post(gate: Gate, caller: Caller, entries: list[tuple[str, str, dict]]) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": r, "request": {"method": m, "url": u}} for m, u, r in entries],
    }
    handle(gate, caller, FhirRequest("POST", "", body=bundle))


DEMO_USERS = (
    # (id, name, member type to attach to, roles, token)
    ("dr.zhang", "张医生 Dr Zhang", "tertiary-hospital", ["clinician"], "demo-clinician"),
    (
        "fd.wang",
        "王医生（家庭医生）Dr Wang",
        "community-health-centre",
        ["family-doctor"],
        "demo-family-doctor",
    ),
    ("it.chen", "陈工（信息科）Chen, IT", "secondary-hospital", ["member-it"], "demo-member-it"),
    ("admin", "联盟管理员 Alliance admin", None, ["admin"], "demo-admin"),
)


def seed_users(gate: Gate, members: list[dict]) -> list[DemoUser]:
    from yilian.alliance.codes import member_type_of
    from yilian.gate.tokens import set_password

    first_of = {}
    for m in members:
        first_of.setdefault(member_type_of(m), m["id"])
    out = []
    for user_id, name, kind, roles, token in DEMO_USERS:
        org = first_of.get(kind) if kind else None
        add_user(gate.engine, user_id, name, org, roles, token=token)
        set_password(gate.engine, user_id, token)  # demo only: the password is the token
        out.append(DemoUser(user_id, name, org, frozenset(roles), token=token))
    return out

"""Seeding the demo alliance: members first, then each member's feed posted as that member's system,
then the demo users. Everything goes through the router, as real traffic would."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import Progress

from yilian.demo.alliance import build_demo_alliance
from yilian.demo.consents import seed_consents
from yilian.fhir.messages import FhirRequest
from yilian.fhir.router import handle
from yilian.gate.caller import Caller, operator
from yilian.gate.repository import Gate
from yilian.gate.users import User, add_user


@dataclass(frozen=True)
class DemoUser(User):
    token: str = ""


@dataclass
class DemoSummary:
    members: int = 0
    bundles: int = 0
    resources: int = 0
    users: list[DemoUser] = field(default_factory=list)


def load_demo(gate: Gate, *, patients: int, seed: int, console: Console | None = None) -> DemoSummary:
    alliance = build_demo_alliance(patients=patients, seed=seed)
    summary = DemoSummary()
    directory = [alliance.alliance, *alliance.members]
    _post(gate, operator(), [("PUT", f"Organization/{o['id']}", o) for o in directory])
    summary.members = len(alliance.members)
    with Progress(console=console, transient=True, disable=console is None) as progress:
        task = progress.add_task("载入演示医联体 Loading the demo alliance", total=len(alliance.feeds))
        for member_id, bundle in alliance.feeds:
            handle(gate, member_system(member_id), FhirRequest("POST", "", body=bundle))
            summary.bundles += 1
            summary.resources += len(bundle.get("entry", []))
            progress.advance(task)
    seed_consents(gate, alliance.truth, seed, member_system)
    summary.users = seed_users(gate, alliance.members)
    return summary


def member_system(member_id: str) -> Caller:
    return Caller(
        f"system:{member_id}", f"{member_id} HIS", member_id, frozenset({"member-system"}), "HOPERAT"
    )


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

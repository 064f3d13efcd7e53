"""The `yilian` command: `yilian --help` lists every command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from yilian.cli import audit as audit_cmd
from yilian.cli import crypto as crypto_cmd
from yilian.cli import export as export_cmd
from yilian.cli import identity as identity_cmd
from yilian.cli import ingest as ingest_cmd
from yilian.cli import load as load_cmd
from yilian.cli.common import console, fail, gate, settings
from yilian.config import Settings
from yilian.fhir.outcomes import FhirError

app = typer.Typer(
    help="Yilian 医联: medical-alliance health information exchange (FHIR R4).", no_args_is_help=True
)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
users = typer.Typer(help="Users and access tokens.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(users, name="users")
app.command("load")(load_cmd.load)
app.command("export")(export_cmd.export)
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(crypto_cmd.app, name="crypto")
app.add_typer(identity_cmd.app, name="identity")
ingest_cmd.register(app)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    upgrade: bool = typer.Option(True, help="Bring the database schema up to date first."),
) -> None:
    """Serve the web UI and the FHIR API."""
    import uvicorn

    from yilian.app import create_app

    if upgrade:
        _upgrade()
    console.print(f"Yilian 医联 on http://{host}:{port}/  (FHIR API at /fhir, API docs at /api/docs)")
    uvicorn.run(create_app(settings()), host=host, port=port, log_level="info")


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest revision."""
    _upgrade()


def _upgrade() -> None:
    from yilian.store import schema
    from yilian.store.engine import make_engine

    engine = make_engine(settings())  # (not gate(): that refuses a database not yet upgraded)
    try:
        schema.upgrade(engine)
        console.print(f"数据库已是最新 Database at revision {schema.current_revision(engine)}")
    finally:
        engine.dispose()


@app.command()
def demo(
    patients: int = typer.Option(60, min=1, help="How many residents the synthetic alliance has."),
    seed: int = typer.Option(20261124, help="Random seed: the same seed builds the same alliance."),
    truth_out: Path = typer.Option(
        None, help="Write the record-linkage truth (person -> member registrations) to this JSON file."
    ),
) -> None:
    """Seed the synthetic demo alliance through the members' feeds (HL7 v2, CSV) and the demo users."""
    from yilian.demo.load import load_demo

    _upgrade()
    try:
        summary = load_demo(gate(), patients=patients, seed=seed, console=console)
    except FhirError as err:
        raise fail(err) from None
    console.print(
        f"演示医联体已载入 Demo alliance loaded: {summary.members} members, "
        f"{summary.messages} feed messages ({summary.rejected} rejected), {summary.resources} resources"
    )
    if truth_out is not None and summary.alliance is not None:
        truth = json.dumps(summary.alliance.truth, ensure_ascii=False, indent=1)
        truth_out.write_text(truth, encoding="utf-8")
        console.print(f"Linkage truth written to {truth_out}")
    table = Table(title="演示用户 Demo users (the token is also the password)")
    for col in ("user", "name", "member", "roles", "token"):
        table.add_column(col, no_wrap=col in ("user", "token", "member"))
    for u in summary.users:
        table.add_row(u.id, u.name, u.organization or "", " ".join(sorted(u.roles)), u.token)
    console.print(table)


@users.command("add")
def users_add(
    user_id: str = typer.Argument(..., help="Login id, e.g. dr.zhang; patient:<Patient id> for a patient."),
    name: str = typer.Option(..., help="Display name."),
    org: str = typer.Option(None, help="The member Organization id the user works for."),
    role: list[str] = typer.Option(..., help="A role (repeat for several)."),
    password: bool = typer.Option(False, "--password", help="Ask for a password (sign-in, /auth/token)."),
) -> None:
    """Create a user and print their access token (shown once)."""
    from yilian.gate.tokens import set_password
    from yilian.gate.users import add_user

    secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    try:
        token = add_user(gate().engine, user_id, name, org, role)
        if secret:
            set_password(gate().engine, user_id, secret)
    except FhirError as err:
        raise fail(err) from None
    console.print(f"User {user_id} created. Access token (keep it secret, shown once): [bold]{token}[/bold]")


@users.command("list")
def users_list() -> None:
    """List users."""
    from yilian.gate.users import list_users

    table = Table("user", "name", "member", "roles")
    for u in list_users(gate().engine):
        table.add_row(u.id, u.name, u.organization or "", " ".join(sorted(u.roles)))
    console.print(table)


@app.command("settings")
def show_settings() -> None:
    """Show every setting, its environment variable, current value and meaning."""
    table = Table("variable", "value", "meaning")
    table.columns[0].no_wrap = True
    current = settings()
    for name, field in Settings.model_fields.items():
        value = getattr(current, name)
        shown = "********" if name == "secret_key" else str(value)
        table.add_row(f"YILIAN_{name.upper()}", shown, field.description or "")
    console.print(table)


if __name__ == "__main__":
    app()

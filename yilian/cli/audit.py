"""`yilian audit ...`: the tamper-evident audit log, checkpoints and members' countersignatures, alerts,
incident response, and the data-encryption keys."""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
import typer
from rich.table import Table

from yilian.cli.common import console, err_console, fail, gate, settings
from yilian.fhir.outcomes import FhirError

app = typer.Typer(help="Audit log, checkpoints, alerts, incidents, data keys.", no_args_is_help=True)
witness_app = typer.Typer(help="Members that countersign checkpoints.", no_args_is_help=True)
incident_app = typer.Typer(help="Security incidents: record, report, notify, close.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys kept outside the database.", no_args_is_help=True)
app.add_typer(witness_app, name="witness")
app.add_typer(incident_app, name="incident")
app.add_typer(keys_app, name="keys")


def _log():  # noqa: ANN202 - the AuditLog
    from yilian.audit.log import of

    log = of(gate())
    if log is None:
        raise fail("The audit log is not attached to the gate")
    return log


@app.command("fold")
def fold() -> None:
    """Fold recorded events into the Merkle tree now and sign the new checkpoint."""
    log = _log()
    started = time.perf_counter()
    n = log.fold_all()
    head = log.head()
    console.print(f"Folded {n} events in {time.perf_counter() - started:.2f}s; the log holds {head.size}.")


@app.command("verify")
def verify(
    checkpoint: list[Path] = typer.Option([], help="A checkpoint note a member kept (repeat for several)."),
    public_key: Path = typer.Option(None, help="The log's public key file (default: the configured key)."),
) -> None:
    """Re-check the whole log: every entry, every tree node, every signed checkpoint. Exit 1 when tampered."""
    from yilian.audit.verify import verify_log
    from yilian.crypto.keys import KeyPair

    log = _log()
    log.fold_all()
    kept = [p.read_text() for p in checkpoint]
    key = KeyPair.from_json(public_key.read_text()).public if public_key else None
    started = time.perf_counter()
    report = verify_log(log, kept=kept, public_key=key)
    seconds = time.perf_counter() - started
    if report.ok:
        console.print(
            f"[green]✓[/green] audit log verified: {report.size} entries, {report.checkpoints} signed "
            f"checkpoints ({log.suite.describe()}) in {seconds:.2f}s"
        )
        return
    first = report.first
    err_console.print(f"[red]✗ audit log tampered[/red]: first tampered entry: {first.message}")
    for p in report.problems[1:20]:
        err_console.print(f"  - {p.kind}: {p.message}")
    if len(report.problems) + report.more > 20:
        err_console.print(f"  ... and {len(report.problems) + report.more - 20} more")
    raise typer.Exit(1)


@app.command("head")
def head() -> None:
    """Print the newest signed checkpoint (the note members countersign and keep)."""
    found = _log().head()
    if found.note is None:
        raise fail("The audit log has no checkpoint yet (run `yilian audit fold`)")
    typer.echo(found.note, nl=False)


@app.command("proof")
def proof(leaf: int = typer.Argument(..., help="The event's index in the log.")) -> None:
    """Print the inclusion proof of one event as JSON (what the patient portal lets patients download)."""
    from yilian.audit import proofs

    log = _log()
    log.fold_all()
    with log.engine.connect() as conn:
        try:
            found = proofs.inclusion(log, conn, leaf)
        except LookupError as exc:
            raise fail(str(exc)) from None
    typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())


@app.command("check-proof")
def check_proof(path: Path, public_key: Path = typer.Option(None, help="The log's public key file.")) -> None:
    """Check a downloaded inclusion proof offline: entry → leaf → path → signed root."""
    from yilian.audit.proofs import check_inclusion
    from yilian.crypto.keys import KeyPair

    key = KeyPair.from_json(public_key.read_text()).public if public_key else None
    problems = check_inclusion(json.loads(path.read_text()), key)
    if problems:
        for p in problems:
            err_console.print(f"[red]✗[/red] {p}")
        raise typer.Exit(1)
    console.print("[green]✓[/green] the event is in the signed audit log, unchanged")


@app.command("consistency")
def consistency(old: int, new: int = typer.Argument(None)) -> None:
    """Print the consistency proof between two tree sizes (the newest by default) as JSON."""
    from yilian.audit import proofs

    log = _log()
    with log.engine.connect() as conn:
        typer.echo(json.dumps(proofs.consistency(log, conn, old, new), indent=2))


@app.command("log")
def show_log(
    user: str = typer.Option(None, help="Only this user's events."),
    patient: str = typer.Option(None, help="Only events about this Patient id."),
    denied: bool = typer.Option(False, help="Only refused requests."),
    break_glass: bool = typer.Option(False, help="Only accesses under break-glass."),
    limit: int = typer.Option(50),
) -> None:
    """List recorded events, newest first."""
    from yilian.audit import access_log

    log = _log()
    log.drain()
    with log.engine.connect() as conn:
        rows = access_log.search(
            conn, user=user, patient=patient, denied=denied, break_glass=break_glass, limit=limit
        )
    table = Table("#", "when", "user", "member", "action", "status", "purpose", "patients")
    for a in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.recorded))
        table.add_row(
            "…" if a.leaf is None else str(a.leaf),
            when,
            a.user_id or "",
            a.member or "",
            a.action,
            str(a.outcome),
            (a.purpose or "") + (f" ({a.break_glass})" if a.break_glass else ""),
            " ".join(p[:8] for p in a.patients[:4]),
        )
    console.print(table)


@app.command("alerts")
def alerts(days: int = typer.Option(1, help="Look back this many days.")) -> None:
    """Security alerts: unusual volume, reads outside a care relationship, repeated refusals."""
    from yilian.security import anomalies

    s = settings()
    _log().drain()
    with gate().engine.connect() as conn:
        found = anomalies.alerts(
            conn,
            gate(),
            patients_per_day=s.anomaly_patients,
            denials=s.anomaly_denials,
            since=time.time() - days * 86400,
        )
    table = Table("kind", "user", "member", "count", "patients")
    for a in found:
        table.add_row(
            a.kind, a.user_id, a.member or "", str(a.count), " ".join(p[:8] for p in a.patients[:5])
        )
    console.print(table if found else "No alerts.")


# ---- witnesses and countersignatures ----------------------------------------------------------------


@app.command("keygen")
def keygen(
    out: Path, suite: str = typer.Option(None, help="intl or guomi (default: the configured suite).")
) -> None:
    """Create a signing key file (a member's countersigning key); prints its public part."""
    from yilian.crypto.keys import new_keypair, write_secret
    from yilian.crypto.suites import suite as suite_named

    pair = new_keypair(suite_named(suite or settings().crypto_suite))
    try:
        write_secret(out, pair.to_json())
    except FileExistsError:
        raise fail(f"{out} exists; keys are never overwritten") from None
    typer.echo(pair.public_json())


@witness_app.command("add")
def witness_add(
    name: str, public_key: Path = typer.Option(..., help="A key file or its public JSON.")
) -> None:
    """Register a member's public key so its countersignatures are kept."""
    from yilian.audit.witness import add_witness
    from yilian.crypto.keys import unb64

    data = json.loads(public_key.read_text())
    add_witness(gate().engine, name, data["algorithm"], unb64(data["public"]))
    console.print(f"Witness {name} registered ({data['algorithm']}).")


@app.command("countersign")
def countersign(note: Path, key: Path = typer.Option(...), name: str = typer.Option(...)) -> None:
    """(Member side) countersign a checkpoint note with your key; prints the note to keep and send back."""
    from yilian.audit.witness import countersign as sign
    from yilian.crypto.keys import KeyPair

    typer.echo(sign(note.read_text(), name, KeyPair.from_json(key.read_text())), nl=False)


@app.command("cosign")
def cosign(note: Path) -> None:
    """(Log side) keep the valid countersignatures of a note a member sent back."""
    from yilian.audit.witness import add_cosignature

    try:
        names = add_cosignature(_log(), note.read_text())
    except FhirError as err:
        raise fail(err) from None
    console.print(f"Countersigned by {', '.join(names)}.")


# ---- incidents ------------------------------------------------------------------------------------------


def _time(text: str) -> float:
    from yilian.security.pages import parse_time

    try:
        return parse_time(text)
    except FhirError as err:
        raise fail(err) from None


@incident_app.command("record")
def incident_record(
    title: str = typer.Option(...),
    start: str = typer.Option(..., help="Window start, e.g. '2026-11-24 08:00'."),
    end: str = typer.Option(..., help="Window end."),
    user: list[str] = typer.Option([], help="An account involved (repeat; none: any)."),
    member: str = typer.Option(None, help="The member involved (none: any)."),
    description: str = typer.Option(""),
) -> None:
    """Record an incident and compute its affected patients from the audit log."""
    from yilian.security import incidents

    _log().drain()
    try:
        with gate().engine.begin() as conn:
            inc = incidents.record_incident(
                conn,
                title=title,
                description=description,
                reported_by="operator",
                window_start=_time(start),
                window_end=_time(end),
                users=user,
                member=member,
            )
    except FhirError as err:
        raise fail(err) from None
    console.print(f"Incident {inc.id} recorded.")
    incident_report(inc.id, as_json=False)


@incident_app.command("list")
def incident_list() -> None:
    from yilian.security import incidents

    with gate().engine.connect() as conn:
        found = incidents.list_incidents(conn)
    table = Table("id", "recorded", "title", "status")
    for i in found:
        table.add_row(i.id, time.strftime("%Y-%m-%d %H:%M", time.localtime(i.recorded)), i.title, i.status)
    console.print(table)


@incident_app.command("report")
def incident_report(incident_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The incident report: scope, affected patients, accesses by account, notifications."""
    from yilian.security import incidents

    try:
        with gate().engine.connect() as conn:
            rep = incidents.report(conn, incident_id)
    except FhirError as err:
        raise fail(err) from None
    inc = rep.incident
    data = {
        "incident": inc.__dict__,
        "affectedPatients": len(rep.patients),
        "accesses": rep.accesses,
        "notified": rep.notified,
        "byUser": dict(rep.by_user),
        "byAction": dict(rep.by_action),
        "patients": [
            {"patient": p.patient_id, "accesses": p.accesses, "notified": bool(p.notified_at)}
            for p in rep.patients
        ],
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(f"[bold]{inc.title}[/bold] ({inc.status}) — {inc.description}")
    console.print(
        f"affected patients: {len(rep.patients)}; accesses: {rep.accesses}; notified: {rep.notified}"
    )
    for user_id, n in rep.by_user.most_common():
        console.print(f"  {user_id}: {n} accesses")


@incident_app.command("notify")
def incident_notify(incident_id: str) -> None:
    """Notify every affected patient not yet told (console notifier: prints the messages)."""
    from yilian.security.interfaces import ConsoleNotifier
    from yilian.security.pages import notify_patients

    try:
        told = notify_patients(gate(), incident_id, ConsoleNotifier(out=console), "operator")
    except FhirError as err:
        raise fail(err) from None
    console.print(f"{len(told)} patients notified.")


@incident_app.command("close")
def incident_close(incident_id: str) -> None:
    from yilian.security import incidents

    with gate().engine.begin() as conn:
        incidents.close(conn, incident_id)
    console.print("Closed.")


# ---- data keys --------------------------------------------------------------------------------------------


@keys_app.command("show")
def keys_show() -> None:
    """Where the keys are and their public parts (never the secrets)."""
    s = settings()
    log = _log()
    console.print(f"key directory: {s.keys_path()}  suite: {log.suite.describe()}")
    console.print(f"audit signing key (public): {log.key.public_json()}")


@keys_app.command("rotate")
def keys_rotate(reseal: bool = typer.Option(True, help="Re-seal records under the new key now.")) -> None:
    """Rotate the identifier data key: new writes use a new key; old records are re-sealed under it."""
    from yilian.crypto.rotation import codec_for, rotate
    from yilian.crypto.rotation import reseal as reseal_all

    try:
        keys = rotate(settings())
    except ValueError as exc:
        raise fail(str(exc)) from None
    console.print(f"New active data key {keys.active} ({len(keys.keys)} keys in the key file).")
    if reseal:
        n = reseal_all(gate().engine, codec_for(settings()))
        console.print(f"{n} records re-sealed under {keys.active}.")


@keys_app.command("reseal")
def keys_reseal() -> None:
    """Re-seal every record still under an older data key (after a rotation was interrupted)."""
    from yilian.crypto.rotation import codec_for, reseal

    n = reseal(gate().engine, codec_for(settings()))
    console.print(f"{n} records re-sealed.")

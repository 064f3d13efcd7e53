"""`yilian ingest ...` (files, dead letters, replay, quality, code tables) and `yilian mllp`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate
from yilian.fhir.outcomes import FhirError
from yilian.gate.caller import operator
from yilian.ingest.errors import IngestError

app = typer.Typer(
    help="Feeds from member institutions: HL7 v2, CSV, FHIR files; dead letters; quality.",
    no_args_is_help=True,
)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _summary(results: list, seconds: float) -> None:
    counts = {s: sum(r.status == s for r in results) for s in ("processed", "duplicate", "rejected")}
    rate = len(results) / seconds if seconds else 0
    console.print(
        f"{len(results)} messages in {seconds:.1f} s ({rate:,.0f}/s): {counts['processed']} processed, "
        f"{counts['duplicate']} duplicates, {counts['rejected']} rejected"
    )
    for r in [r for r in results if r.status == "rejected"][:20]:
        console.print(f"[red]✗[/red] message {r.id}: {r.error}")
    if counts["rejected"] > 20:
        console.print(f"... and {counts['rejected'] - 20} more: yilian ingest dead-letters")


@app.command("file")
def file(
    paths: list[Path] = typer.Argument(
        ..., help="HL7 v2 files (.hl7, .txt), CSV exports, FHIR files, or folders."
    ),
    member: str = typer.Option(None, help="The member that sent them (HL7 v2: MSH-4 when not given)."),
    format: str = typer.Option(None, "--format", help="hl7v2, csv or fhir (default: from the file name)."),  # noqa: A002
    mapping: Path = typer.Option(
        None, help="The member's CSV mapping (TOML); kept for later files and replays."
    ),
    kind: str = typer.Option(None, help="CSV: the kind of every file (patients, visits, results...)."),
    workers: int = typer.Option(
        min(2, os.cpu_count() or 1),
        help="Processes that parse and map ahead of the writer (0: none; used for 50 messages or more).",
    ),
) -> None:
    """Ingest files from a member: every message is stored and processed; refused ones are kept as dead
    letters."""
    from yilian.ingest.service import files_of, ingest_paths, register_mapping

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise fail(f"No such file or folder: {', '.join(map(str, missing))}")
    if format and format not in ("hl7v2", "csv", "fhir"):
        raise fail(f"Unknown format {format!r}: use hl7v2, csv or fhir")
    try:
        if mapping is not None:
            if not member:
                raise fail("--mapping needs --member")
            mapped = register_mapping(gate(), member, mapping.read_text(encoding="utf-8"))
            console.print(f"Mapping of {member} saved ({mapped} local codes mapped)")
        total = sum(len(files_of(p)) for p in paths)
        g = gate()
        started = time.perf_counter()
        with _progress() as progress:
            task = progress.add_task("接收 Ingesting", total=None)
            results = ingest_paths(
                g,
                paths,
                member=member,
                fmt=format,
                kind=kind,
                workers=workers,
                on_progress=lambda n: progress.advance(task, n),
                on_total=lambda n: progress.update(task, total=n),
            )
    except (IngestError, FhirError) as err:
        raise fail(err if isinstance(err, FhirError) else str(err)) from None
    console.print(f"{total} files")
    _summary(results, time.perf_counter() - started)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(1)


@app.command("dead-letters")
def dead_letters(
    member: str = typer.Option(None, help="Only this member's."),
    show: int = typer.Option(None, help="Print one dead letter in full (its content and error)."),
    limit: int = typer.Option(200, help="At most this many."),
) -> None:
    """List the messages that were refused, with the reason (fix them, then `yilian ingest replay`)."""
    from yilian.ingest import store

    engine = gate().engine
    if show is not None:
        row = store.get_message(engine, show)
        if row is None:
            raise fail(f"No message {show}")
        console.print(f"message {row.id} · {row.member} · {row.kind} · {row.status} · {row.source or ''}")
        console.print(f"[red]{row.error or ''}[/red]")
        console.print(row.text().replace("\r", "\n"), markup=False, highlight=False)
        return
    rows = store.list_messages(engine, status=store.REJECTED, member=member, limit=limit)
    table = Table(title=f"死信 Dead letters ({len(rows)})")
    for col in ("id", "member", "kind", "control id", "received", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        received = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.received_at))
        table.add_row(str(r.id), r.member or "?", r.kind, r.control_id or "", received, (r.error or "")[:300])
    console.print(table)


@app.command("replay")
def replay_cmd(
    ids: list[int] = typer.Argument(None, help="Message ids to process again."),
    all_: bool = typer.Option(False, "--all", help="Every dead letter (and any message left unprocessed)."),
    member: str = typer.Option(None, help="With --all: only this member's."),
    fixed: Path = typer.Option(None, help="With one id: the corrected message, replacing the stored one."),
) -> None:
    """Process dead letters again, after fixing the message, the mapping, the code tables or the data
    they depend on."""
    from yilian.ingest.pipeline import replay
    from yilian.ingest.service import fix

    if not ids and not all_:
        raise fail("Name message ids, or --all")
    started = time.perf_counter()
    try:
        if fixed is not None:
            if len(ids or []) != 1:
                raise fail("--fixed replaces one message: name exactly one id")
            results = fix(gate(), ids[0], fixed.read_bytes())
        else:
            results = replay(gate(), None if all_ else ids, member=member)
    except (IngestError, FhirError) as err:
        raise fail(err if isinstance(err, FhirError) else str(err)) from None
    _summary(results, time.perf_counter() - started)
    if any(r.status == "rejected" for r in results):
        raise typer.Exit(1)


@app.command("codes")
def codes(
    member: str = typer.Argument(..., help="The member whose code tables these are."),
    file: Path = typer.Argument(
        ..., help="TOML with [codes.lab], [codes.diagnosis], [codes.drug]... tables."
    ),
) -> None:
    """Load a member's code tables (local code -> LOINC, ICD-10, national drug code...)."""
    import tomllib

    from yilian.ingest.codes import tables_from_toml
    from yilian.ingest.store import save_code_tables

    try:
        tables = tables_from_toml(tomllib.loads(file.read_text(encoding="utf-8")))
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise fail(f"{file}: {err}") from None
    n = save_code_tables(gate().engine, member, tables)
    console.print(f"{member}: {n} local codes mapped ({', '.join(tables)})")


@app.command("quality")
def quality(member: str = typer.Option(None, help="Only this member.")) -> None:
    """The data-quality report: volumes, rejections, unmapped codes, completeness, timeliness."""
    from yilian.ingest.quality import report

    for q in report(gate(), operator(), member):
        _print_quality(q)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _hours(x: float | None) -> str:
    return "–" if x is None else (f"{x * 60:.0f} min" if x < 1 else f"{x:.1f} h")


def _print_quality(q) -> None:  # noqa: ANN001 - a MemberQuality
    m = q.messages
    console.rule(f"[bold]{q.member}")
    console.print(
        f"messages {sum(m.values())}: {m['processed']} processed, {m['rejected']} rejected "
        f"({_pct(q.rejection_rate)}), {m['duplicate']} duplicates · timeliness: median "
        f"{_hours(q.delay(0.5))}, p90 {_hours(q.delay(0.9))}, within 24 h {_pct(q.within_24h)}"
    )
    volumes = Table("kind", "processed", "rejected", "duplicate", title="数据量 Volumes")
    for kind, c in sorted(q.kinds.items()):
        volumes.add_row(kind, str(c["processed"]), str(c["rejected"]), str(c["duplicate"]))
    console.print(volumes)
    if q.reasons:
        reasons = Table("count", "reason", title="拒收原因 Rejection reasons")
        for reason, n in q.reasons[:10]:
            reasons.add_row(str(n), reason[:200])
        console.print(reasons)
    if q.unmapped:
        unmapped = Table("kind", "local code", "name", "messages", title="未映射编码 Unmapped codes")
        for kind, code, display, n in q.unmapped[:20]:
            unmapped.add_row(kind, code, display or "", str(n))
        console.print(unmapped)
    if q.completeness:
        complete = Table(
            "resource", "core field (WS 365 / WS 445)", "present", "rate", title="完整性 Completeness"
        )
        for c in q.completeness:
            complete.add_row(c.rtype, c.element, f"{c.present}/{c.total}", _pct(c.rate))
        console.print(complete)


def mllp(
    port: int = typer.Option(2575, help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    member: str = typer.Option(
        None, help="Take every message as this member's (else MSH-4 names the member)."
    ),
) -> None:
    """Listen for HL7 v2 over MLLP: store, process and acknowledge each message (AA, or AE/AR with the
    error)."""
    from yilian.ingest.mllp import MllpServer

    server = MllpServer(gate(), host, port, member)
    console.print(
        f"MLLP listener on {host}:{server.port}"
        + (f" for member {member}" if member else "")
        + " — Ctrl+C to stop"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(root: typer.Typer) -> None:
    """Add `yilian ingest ...` and `yilian mllp` to the root command."""
    root.add_typer(app, name="ingest")
    root.command("mllp")(mllp)

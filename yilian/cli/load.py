"""`yilian load PATH...`: load FHIR Bundles, NDJSON and .tar.gz archives through the router."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate
from yilian.fhir.outcomes import FhirError
from yilian.gate.caller import operator
from yilian.ingest.bulk import LoadStats, load_paths
from yilian.ingest.fhir_files import input_size


def load(
    paths: list[Path] = typer.Argument(
        ..., help="Bundle .json, .ndjson, .tar.gz archives or folders of them."
    ),
    workers: int = typer.Option(
        min(2, os.cpu_count() or 1), help="Processes that parse and validate ahead of the writer (0: none)."
    ),
    stop_on_error: bool = typer.Option(False, "--stop-on-error", help="Stop at the first rejected bundle."),
) -> None:
    """Load FHIR data from files, with a progress bar and a summary."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise fail(f"No such file or folder: {', '.join(map(str, missing))}")
    g = gate()
    started = time.perf_counter()
    # Progress in bytes of the files as stored: known at once from their sizes, where counting an
    # archive's bundles first would mean decompressing all of it before loading any.
    columns = (
        TextColumn("[bold]载入 Loading"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[bundles]:,} bundles, {task.fields[entries]:,} resources"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("load", total=input_size(paths), bundles=0, entries=0)

        def advance(stats: LoadStats) -> None:
            progress.update(task, completed=stats.read_bytes, bundles=stats.bundles, entries=stats.entries)

        try:
            stats = load_paths(
                g, operator(), paths, workers=workers, on_progress=advance, stop_on_error=stop_on_error
            )
        except FhirError as err:
            raise fail(err) from None
    _summary(stats, time.perf_counter() - started)
    if stats.errors:
        raise typer.Exit(1)


def _summary(stats: LoadStats, seconds: float) -> None:
    table = Table(title="载入结果 Load summary")
    table.add_column("resource type")
    table.add_column("entries", justify="right")
    for rtype, n in stats.by_type.most_common():
        table.add_row(rtype, str(n))
    console.print(table)
    rate = stats.entries / seconds if seconds else 0
    console.print(
        f"{stats.bundles} bundles, {stats.entries} entries ({stats.created} created, {stats.matched} matched "
        f"existing or updated) in {seconds:.1f} s = {rate:,.0f}/s; {stats.rejected} sources rejected"
    )
    for name, message in stats.errors[:20]:
        console.print(f"[red]✗[/red] {name}: {message[:500]}")
    if len(stats.errors) > 20:
        console.print(f"... and {len(stats.errors) - 20} more rejected")

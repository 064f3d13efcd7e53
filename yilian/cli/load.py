"""`yilian load PATH...`: load FHIR Bundles, NDJSON and .tar.gz archives through the router."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate.caller import operator
from yilian.ingest.fhir_files import count_sources, iter_sources, to_bundles


def load(
    paths: list[Path] = typer.Argument(..., help="Bundle .json, .ndjson, .tar.gz archives or folders of them."),
    stop_on_error: bool = typer.Option(False, "--stop-on-error", help="Stop at the first rejected bundle."),
) -> None:
    """Load FHIR data from files, with a progress bar and a summary."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise fail(f"No such file or folder: {', '.join(map(str, missing))}")
    stats = Counter()
    by_type: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    started = time.perf_counter()
    with Progress(TextColumn("[bold]载入 Loading"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[resources]} resources"), TimeRemainingColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task("load", total=count_sources(paths), resources=0)
        for source in iter_sources(paths):
            for bundle in to_bundles(source):
                try:
                    _post(bundle, stats, by_type)
                except FhirError as err:
                    stats["rejected"] += 1
                    errors.append((source.name, str(err)))
                    if stop_on_error:
                        raise fail(err) from None
            progress.update(task, advance=1, resources=stats["resources"])
    _summary(stats, by_type, errors, time.perf_counter() - started)
    if errors:
        raise typer.Exit(1)


def _post(bundle: dict, stats: Counter, by_type: Counter) -> None:
    response = handle(gate(), operator(), FhirRequest("POST", "", body=bundle))
    for entry, result in zip(bundle["entry"], response.body["entry"], strict=True):
        status = result["response"]["status"][:3]
        stats["created" if status == "201" else "existing or updated"] += 1
        by_type[entry.get("resource", {}).get("resourceType", "?")] += 1
    stats["resources"] += len(bundle["entry"])
    stats["bundles"] += 1


def _summary(stats: Counter, by_type: Counter, errors: list[tuple[str, str]], seconds: float) -> None:
    table = Table(title="载入结果 Load summary")
    table.add_column("resource type")
    table.add_column("entries", justify="right")
    for rtype, n in by_type.most_common():
        table.add_row(rtype, str(n))
    console.print(table)
    rate = stats["resources"] / seconds if seconds else 0
    console.print(
        f"{stats['bundles']} bundles, {stats['resources']} entries ({stats['created']} created, "
        f"{stats['existing or updated']} matched existing or updated) in {seconds:.1f} s = {rate:,.0f}/s; "
        f"{stats['rejected']} bundles rejected"
    )
    for name, message in errors[:20]:
        console.print(f"[red]✗[/red] {name}: {message[:500]}")
    if len(errors) > 20:
        console.print(f"... and {len(errors) - 20} more rejected bundles")

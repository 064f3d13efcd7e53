"""What every command needs: settings, the engine, the gate, and turning FhirErrors into readable text."""

from __future__ import annotations

from functools import cache

import typer
from rich.console import Console

from yilian.config import Settings
from yilian.fhir.outcomes import FhirError
from yilian.gate.repository import Gate
from yilian.wiring import build_gate

console = Console()
err_console = Console(stderr=True)


@cache
def settings() -> Settings:
    return Settings()


@cache
def gate() -> Gate:
    return build_gate(settings())


def fail(err: FhirError | str) -> typer.Exit:
    """Print an error readably and return the Exit to raise."""
    if isinstance(err, FhirError):
        for p in err.problems:
            where = f" [dim](at {p.location})[/dim]" if p.location else ""
            err_console.print(f"[red]✗[/red] {p.message}{where}")
    else:
        err_console.print(f"[red]✗[/red] {err}")
    return typer.Exit(1)

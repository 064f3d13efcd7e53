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
    """The gate, once the database's schema is known to be this code's (else a readable error)."""
    from yilian.store import schema

    built = build_gate(settings())
    if not schema.is_current(built.engine):
        where = built.engine.url.render_as_string(hide_password=True)
        raise fail(
            f"The database at {where} is not set up for this version of Yilian (its schema is missing or "
            "older): run `yilian db upgrade` first (`yilian demo` and `yilian serve` do it themselves)"
        )
    return built


def fail(err: FhirError | str) -> typer.Exit:
    """Print an error readably and return the Exit to raise."""
    if isinstance(err, FhirError):
        for p in err.problems:
            where = f" [dim](at {p.location})[/dim]" if p.location else ""
            err_console.print(f"[red]✗[/red] {p.message}{where}")
    else:
        err_console.print(f"[red]✗[/red] {err}")
    return typer.Exit(1)

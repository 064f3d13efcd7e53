"""`yilian crypto ...`: encryption at rest of patients' direct identifiers (status, sealing old rows).

Data-key rotation stays under `yilian audit keys` (rotate, reseal), beside the audit signing key.
"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate, settings

app = typer.Typer(help="Encryption of patients' identifiers at rest.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Whether identifiers are encrypted, where the keys are, and how many records are sealed or clear."""
    from yilian.crypto import seal as sealing
    from yilian.crypto.keys import DATA_KEYS_FILE

    s = settings()
    keys_file = s.keys_path() / DATA_KEYS_FILE
    source = "YILIAN_DATA_KEYS" if s.data_keys else (str(keys_file) if keys_file.exists() else "none yet")
    console.print(
        f"encrypt_identifiers: {'on' if s.encrypt_identifiers else 'off'}   suite: {s.crypto_suite}"
    )
    console.print(f"data keys: {source}")
    found = sealing.status(gate().engine)
    table = Table("state", "rows (Patient, RelatedPerson, Person; current and history)")
    for key_id, n in sorted(found.by_key.items()):
        table.add_row(f"sealed under {key_id}", str(n))
    table.add_row("identifiers in the clear", str(found.clear))
    table.add_row("nothing to seal", str(found.nothing))
    console.print(table)
    if found.clear and s.encrypt_identifiers:
        console.print("Run `yilian crypto seal` to seal the records stored in the clear.")
    elif found.clear:
        console.print("Turn on YILIAN_ENCRYPT_IDENTIFIERS, then run `yilian crypto seal`.")


@app.command("seal")
def seal() -> None:
    """Seal the identifiers of every record stored before encryption was turned on (and their search
    index rows). Safe to run again, and to interrupt: it resumes where it stopped."""
    from yilian.crypto import seal as sealing
    from yilian.crypto.rotation import codec_for

    s = settings()
    if not s.encrypt_identifiers:
        raise fail(
            "Encryption is off: set YILIAN_ENCRYPT_IDENTIFIERS=true first, so that the server opens what "
            "this seals and hashes search values the same way"
        )
    engine = gate().engine
    total = sealing.rows_of_sealed_types(engine)
    columns = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("sealing", total=total)
        report = sealing.seal(engine, codec_for(s), progress=lambda n: bar.advance(task, n))
    console.print(
        f"{report.sealed} records sealed, {report.already} already sealed, "
        f"{report.nothing} with nothing to seal; {report.index_rows} search index rows hashed."
    )

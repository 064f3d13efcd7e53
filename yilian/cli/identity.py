"""`yilian identity ...`: the master patient index from the command line (index, train, link in batch,
thresholds, the review queue)."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yilian.cli.common import console, fail, gate

app = typer.Typer(
    help="Master patient index (主索引): the same person across the alliance.", no_args_is_help=True
)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@app.command("link")
def link(
    train_first: bool = typer.Option(False, "--train", help="Train a new model on the index before linking."),
) -> None:
    """Index every Patient, then link the whole index in batch (Splink on DuckDB), with progress."""
    from yilian.identity import index, service

    with _progress() as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"{stage}", total=total or 1)
            progress.update(tasks[stage], completed=done, total=total or 1)

        indexed = service.index_all(gate(), report)
        if train_first:
            with gate().writing(_operator()) as repo:
                model_id = service.train_model(
                    repo.conn, index.active_features(repo.conn), "yilian identity link --train"
                )
            console.print(f"训练完成 Model {model_id} trained and activated")
        summary = service.link_all(gate(), report)
    console.print(f"已索引 Indexed {indexed} new or changed Patients")
    table = Table(title="批量关联 Batch linkage")
    table.add_column("")
    table.add_column("", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command("train")
def train(
    synthetic: int = typer.Option(0, help="Train on this many synthetic records instead of the index."),
    seed: int = typer.Option(7, help="Seed of the synthetic population."),
    ship: bool = typer.Option(False, help="Also write the model as the shipped default (developers)."),
) -> None:
    """Train the Fellegi-Sunter model with Splink and make it the active one."""
    from yilian.identity import index, service

    with gate().writing(_operator()) as repo:
        if synthetic:
            from yilian.identity.normalize import features
            from yilian.identity.synthetic import build_population

            pop = build_population(synthetic, seed)
            rows = [{**features(p), "uid": p["id"]} for _m, p in pop.patients]
            source = f"synthetic population, {len(rows)} records, seed {seed}"
        else:
            rows, source = index.active_features(repo.conn), "the indexed records"
        if len(rows) < 100:
            raise fail("Too few records to train on (index at least 100, or use --synthetic)")
        model_id = service.train_model(repo.conn, rows, f"{source}, {len(rows)} records")
        if ship:
            from yilian.identity import model as models
            from yilian.identity.default_model import write_default

            write_default(models.active(repo.conn, _spec()).params or {}, source)
    console.print(f"模型 Model {model_id} trained on {len(rows)} records and activated")


@app.command("thresholds")
def thresholds(
    auto: float = typer.Option(None, help="Match weight at or above which pairs link automatically."),
    review: float = typer.Option(None, help="Match weight at or above which pairs go to review."),
) -> None:
    """Show or set the thresholds (match weights, log2 odds) of the active model."""
    from yilian.identity import model as models

    with gate().writing(_operator()) as repo:
        current = models.active(repo.conn, _spec())
        if auto is not None or review is not None:
            try:
                current = models.set_thresholds(
                    repo.conn,
                    _spec(),
                    auto if auto is not None else current.auto_weight,
                    review if review is not None else current.review_weight,
                )
            except ValueError as err:
                raise fail(str(err)) from None
    console.print(
        f"自动关联 auto-link ≥ {current.auto_weight}; 人工审核 review ≥ {current.review_weight} "
        f"(model {current.id or 'shipped default'})"
    )


@app.command("reviews")
def reviews(limit: int = typer.Option(20, help="How many to show.")) -> None:
    """List the pairs waiting for review, strongest first."""
    from yilian.identity import links

    with gate().engine.connect() as conn:
        rows = links.open_reviews(conn, limit)
    table = Table("review", "record", "record", "weight", "why")
    for r in rows:
        table.add_row(str(r.id), r.a, r.b, f"{r.weight:.1f}" if r.weight is not None else "", r.reasons or "")
    console.print(table)


def _operator():  # noqa: ANN202 - a Caller
    from yilian.gate.caller import operator

    return operator()


def _spec():  # noqa: ANN202 - the person Spec
    from yilian.identity.settings import PERSON_SPEC

    return PERSON_SPEC

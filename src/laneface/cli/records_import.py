"""`laneface records import results.jsonl`: `laneface run` results into the data dir's records database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of

__all__ = ["records_app"]

records_app = typer.Typer(
    help="The data directory's records database: crossings from `laneface run`.", no_args_is_help=True
)


@records_app.command("import")
def records_import(
    ctx: typer.Context,
    results: Annotated[Path, typer.Argument(help="JSON Lines file of `laneface run --out`.")],
    shots: Annotated[
        Path | None,
        typer.Option("--shots", help="Best shots saved by `laneface run --save-shots DIR` (stored encrypted)."),
    ] = None,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="Without privacy.encryption_key, encrypt images with <data dir>/dev-encryption.key (development).",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Store each passage of RESULTS as a crossing (the body a lane posts, checked as the service checks it),
    idempotent on (lane, passage_id): importing the file again stores nothing new. Error lines of the run are
    reported, not imported; a malformed line stops the import before anything is stored. Exit status 1 when
    a passage was refused or conflicts with a stored one."""
    from laneface.api.ingest import import_results_file
    from laneface.progress import progress_bar
    from laneface.records.service import RecordsService, build_cipher

    settings = settings_of(ctx)
    if shots is not None and not shots.is_dir():
        raise typer.BadParameter(f"{shots} is not a directory", param_hint="--shots")
    service = RecordsService.open(settings, build_cipher(settings, dev_key=insecure_dev))
    try:
        service.prepare_schema()
        with progress_bar(f"import {results.name}", progress) as bar:
            report = import_results_file(service, results, shots_dir=shots, progress=bar)
    finally:
        service.close()
    if as_json:
        emit_json(report.as_json())
    else:
        typer.echo(
            f"{len(report.imported)} crossings imported ({report.images} best shots), "
            f"{len(report.already)} already in the records (not imported again), "
            f"{len(report.failed)} failed passages in the file (not imported), "
            f"{len(report.conflicts)} conflicts, {len(report.refused)} refused",
            err=True,
        )
        for kind, entries in (("failed", report.failed), ("conflict", report.conflicts), ("refused", report.refused)):
            for e in entries:
                typer.echo(f"  line {e.line}: {kind}: {e.passage_id or '?'}: {e.error}", err=True)
    if report.conflicts or report.refused:
        raise typer.Exit(1)

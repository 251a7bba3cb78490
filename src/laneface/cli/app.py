"""The `laneface` command line. Settings are loaded here, once, and passed down."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.bench import bench_app
from laneface.cli.bench_gallery import bench_gallery_command, bench_onen_command
from laneface.cli.demo import demo_command
from laneface.cli.detect import detect_command
from laneface.cli.evaluate import eval_app
from laneface.cli.gallery import calibrate_command, gallery_app
from laneface.cli.lane import lane_command
from laneface.cli.logs import configure_logging
from laneface.cli.models import models_app
from laneface.cli.quality import quality_command
from laneface.cli.records import db_app, keys_app, ledger_app, purge_command
from laneface.cli.records_import import records_app
from laneface.cli.run import outbox_app, run_command
from laneface.cli.serve import serve_command
from laneface.cli.sim import sim_app
from laneface.config import load_settings
from laneface.errors import LanefaceError

__all__ = ["LogFormat", "app", "main"]


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


app = typer.Typer(
    name="laneface",
    help="Capture, quality-check and match the faces of every vehicle occupant in a border-crossing lane.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo_command)
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
app.command("detect")(detect_command)
app.command("quality")(quality_command)
app.command("serve")(serve_command)
app.command("purge")(purge_command)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(ledger_app, name="ledger")
app.add_typer(gallery_app, name="gallery")
app.command("calibrate")(calibrate_command)
app.command("run")(run_command)
bench_app.command("gallery")(bench_gallery_command)
bench_app.command("onen")(bench_onen_command)
app.add_typer(sim_app, name="sim")
app.command("lane")(lane_command)
app.add_typer(records_app, name="records")
app.add_typer(outbox_app, name="outbox")


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: per-user data dir; env LANEFACE_DATA_DIR)."),
    ] = None,
    models_dir: Annotated[
        Path | None,
        typer.Option("--models-dir", help="Directory searched first for model files (env LANEFACE_MODELS_DIR)."),
    ] = None,
    model_specs: Annotated[
        Path | None, typer.Option("--model-specs", help="TOML file with extra model specs (an agency's ArcFace model).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress and details.")] = False,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format", help="Log lines on stderr: text, or one JSON object a line (env LANEFACE_LOG_FORMAT)."
        ),
    ] = None,
) -> None:
    """Global options apply to every command."""
    ctx.obj = load_settings(
        data_dir=data_dir,
        models__models_dir=models_dir,
        models__specs_file=model_specs,
        log_level="INFO" if verbose else None,
        log_format=None if log_format is None else log_format.value,
    )
    configure_logging(ctx.obj.log_level, ctx.obj.log_format)


def main() -> None:
    """Entry point: every LanefaceError becomes one clear line on stderr and exit status 2."""
    try:
        app()
    except LanefaceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None

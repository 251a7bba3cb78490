"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from laneface.config import Settings
from laneface.models import ModelStore

__all__ = ["FewFmrOption", "emit_json", "settings_of", "store_of"]

# `--few-fmr` of `laneface run` and `laneface bench lane` (default: LaneConfig's, 1e-2; lane.toml: few_fmr)
FewFmrOption = Annotated[
    float,
    typer.Option(
        "--few-fmr",
        min=1e-6,
        max=0.5,
        help="1:few target: false-match probability of an occupant whose document was not read "
        "(the lane's false matches are about this times the share of documents not read).",
    ),
]


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings that the root command loaded from the environment and global options."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise RuntimeError("settings were not loaded by the root command")
    return settings


def store_of(ctx: typer.Context) -> ModelStore:
    return ModelStore.from_settings(settings_of(ctx))


def emit_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))

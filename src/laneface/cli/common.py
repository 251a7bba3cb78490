"""Helpers shared by CLI commands."""

from __future__ import annotations

import json

import typer

from laneface.config import Settings
from laneface.models import ModelStore

__all__ = ["emit_json", "settings_of", "store_of"]


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

"""Helpers shared by CLI commands."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError

from laneface.config import LaneSettings, Settings
from laneface.models import ModelStore

__all__ = [
    "DetectFpsOption",
    "DetectorOption",
    "EmbedderOption",
    "FewFmrOption",
    "FullFrameFpsOption",
    "ProfileOption",
    "ShotsPerTrackOption",
    "SideDetectFpsOption",
    "emit_json",
    "settings_of",
    "settings_with_lane",
    "store_of",
]


def _lane_help(name: str) -> str:
    """The help of a lane option: the field's description and default, from :class:`LaneSettings`."""
    field = LaneSettings.model_fields[name]
    return f"{field.description} (default {field.default}; LANEFACE_LANE__{name.upper()}; lane.toml: pipeline.{name})"


# the lane pipeline's options (`laneface run`, `laneface bench lane`): None = the settings' value
DetectorOption = Annotated[
    str | None, typer.Option("--detector", "-d", help="Detector (default: the detection settings, 'auto').")
]
EmbedderOption = Annotated[
    str | None, typer.Option("--embedder", "-e", help="Embedder (default: the embedding settings).")
]
ProfileOption = Annotated[str | None, typer.Option("--profile", "-p", help=_lane_help("profile"))]
FewFmrOption = Annotated[float | None, typer.Option("--few-fmr", help=_lane_help("few_fmr"))]
DetectFpsOption = Annotated[float | None, typer.Option("--detect-fps", help=_lane_help("detect_fps"))]
SideDetectFpsOption = Annotated[float | None, typer.Option("--side-detect-fps", help=_lane_help("side_detect_fps"))]
FullFrameFpsOption = Annotated[float | None, typer.Option("--full-frame-fps", help=_lane_help("full_frame_fps"))]
ShotsPerTrackOption = Annotated[int | None, typer.Option("--shots-per-track", help=_lane_help("shots_per_track"))]


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings that the root command loaded from the environment and global options."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise RuntimeError("settings were not loaded by the root command")
    return settings


def settings_with_lane(ctx: typer.Context, **options: object) -> Settings:
    """The root command's Settings with the given (non-None) lane options applied to ``settings.lane``; a value
    out of range is a usage error naming the option."""
    settings = settings_of(ctx)
    given = {k: v for k, v in options.items() if v is not None}
    try:
        lane = LaneSettings.model_validate({**settings.lane.model_dump(), **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "lane"
        raise typer.BadParameter(first["msg"], param_hint="--" + name.replace("_", "-")) from None
    return settings.model_copy(update={"lane": lane})


def store_of(ctx: typer.Context) -> ModelStore:
    return ModelStore.from_settings(settings_of(ctx))


def emit_json(obj: object) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))

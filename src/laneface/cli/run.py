"""`laneface run PASSAGE_DIR ... --out results.jsonl`: the lane pipeline on recorded passages."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import (
    DetectFpsOption,
    DetectorOption,
    EmbedderOption,
    FewFmrOption,
    FullFrameFpsOption,
    ProfileOption,
    ShotsPerTrackOption,
    SideDetectFpsOption,
    settings_with_lane,
    store_of,
)

__all__ = ["run_command"]

logger = logging.getLogger(__name__)


def run_command(
    ctx: typer.Context,
    passages: Annotated[
        list[Path], typer.Argument(help="Passage directories (passage.json + cam_<name>.mp4 or cam_<name>/ frames).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file written, one line per passage.")],
    detector: DetectorOption = None,
    embedder: EmbedderOption = None,
    detect_fps: DetectFpsOption = None,
    side_detect_fps: SideDetectFpsOption = None,
    full_frame_fps: FullFrameFpsOption = None,
    shots_per_track: ShotsPerTrackOption = None,
    profile: ProfileOption = None,
    few_fmr: FewFmrOption = None,
) -> None:
    """Process each passage: every occupant, its row, its best shot's quality and its identification
    (1:few against the passage's documents, then 1:N). One JSON line per passage; a passage that cannot be
    read gets a line with "error" and the run goes on."""
    from laneface.pipeline.lane import LanePipeline
    from laneface.pipeline.passages import PassageOutcome, process_passages

    settings = settings_with_lane(
        ctx,
        detector=detector,
        embedder=embedder,
        detect_fps=detect_fps,
        side_detect_fps=side_detect_fps,
        full_frame_fps=full_frame_fps,
        shots_per_track=shots_per_track,
        profile=profile,
        few_fmr=few_fmr,
    )
    pipeline = LanePipeline.from_settings(settings, store_of(ctx))

    def progress(done: int, outcome: PassageOutcome) -> None:
        logger.info("%d/%d %s", done, len(passages), outcome.directory)

    errors = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with pipeline, out.open("w", encoding="utf-8") as fh:
        for outcome in process_passages(pipeline, passages, progress=progress):
            errors += outcome.error is not None
            fh.write(json.dumps(outcome.as_json()) + "\n")
            fh.flush()
    typer.echo(f"{len(passages)} passages, {errors} with errors: {out}", err=True)

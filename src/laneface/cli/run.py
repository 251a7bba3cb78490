"""`laneface run PASSAGE_DIR ... --out results.jsonl`: the lane pipeline on recorded passages."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import FewFmrOption, settings_of, store_of
from laneface.errors import InputError

__all__ = ["run_command"]

logger = logging.getLogger(__name__)


def run_command(
    ctx: typer.Context,
    passages: Annotated[
        list[Path], typer.Argument(help="Passage directories (passage.json + cam_<name>.mp4 or cam_<name>/ frames).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file written, one line per passage.")],
    detector: Annotated[
        str | None, typer.Option("--detector", "-d", help="Detector (default: settings, 'auto').")
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", "-e", help="Embedder (default: settings).")] = None,
    detect_fps: Annotated[
        float, typer.Option("--detect-fps", help="Frames per second of a front camera that go through detection.")
    ] = 5.0,
    side_detect_fps: Annotated[
        float, typer.Option("--side-detect-fps", help="The same for side cameras (views left, right).")
    ] = 10.0,
    full_frame_fps: Annotated[
        float,
        typer.Option("--full-frame-fps", help="Frames per second searched whole; the others only around tracks."),
    ] = 1.25,
    shots_per_track: Annotated[
        int,
        typer.Option("--shots-per-track", min=1, help="Best shots of each track that are embedded (1 saves CPU)."),
    ] = 2,
    profile: Annotated[str, typer.Option("--profile", "-p", help="Quality profile of a capture.")] = "vehicle",
    few_fmr: FewFmrOption = 1e-2,
) -> None:
    """Process each passage: every occupant, its row, its best shot's quality and its identification
    (1:few against the passage's documents, then 1:N). One JSON line per passage; a passage that cannot be
    read gets a line with "error" and the run goes on."""
    from laneface.capture.passage import passage_id_of
    from laneface.matching import MatchPolicy
    from laneface.pipeline.lane import LaneConfig, LanePipeline

    settings = settings_of(ctx)
    pipeline = LanePipeline.from_settings(
        settings,
        store_of(ctx),
        config=LaneConfig(
            detect_fps=detect_fps,
            side_detect_fps=side_detect_fps,
            full_frame_fps=full_frame_fps,
            shots_per_track=shots_per_track,
            policy=MatchPolicy(target_fmr=few_fmr),
        ),
        detector=detector,
        embedder=embedder,
        profile=profile,
    )
    errors = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with pipeline, out.open("w", encoding="utf-8") as fh:
        for directory in passages:
            line: dict[str, object]
            try:
                line = pipeline.process(directory).as_json()
            except InputError as exc:
                errors += 1
                line = {"passage_id": passage_id_of(directory), "passage_dir": str(directory), "error": str(exc)}
                logger.warning("passage %s: %s", directory, exc)
            fh.write(json.dumps(line) + "\n")
            fh.flush()
    typer.echo(f"{len(passages)} passages, {errors} with errors: {out}", err=True)

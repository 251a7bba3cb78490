"""`laneface bench ...` commands."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.errors import InvalidDatasetError

bench_app = typer.Typer(help="Benchmarks that print numbers (accuracy, speed, recall).", no_args_is_help=True)
log = logging.getLogger(__name__)

DEFAULT_IEDS = "8,10,12,15,18,20,25,30,40,60,80"


@bench_app.command("detect")
def detect(
    ctx: typer.Context,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW deep-funneled image root (faces to paste).")],
    no_face: Annotated[
        Path | None, typer.Option("--no-face", help="An image without faces (false detections).")
    ] = None,
    detectors: Annotated[
        str,
        typer.Option("--detectors", help="Comma-separated; NAME@UPSCALExTILE adds upscaling/tiling, e.g. yunet@2x640."),
    ] = "dlib-hog,yunet,retinaface,scrfd,scrfd-500m",
    ieds: Annotated[str, typer.Option("--ieds", help="Inter-eye distances in px, comma-separated.")] = DEFAULT_IEDS,
    faces: Annotated[int, typer.Option("--faces", help="Faces per size (LFW images, seeded choice).")] = 60,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Directory for JSON and the recall plot.")] = Path(
        "out/bench_detect"
    ),
) -> None:
    """Per detector: recall versus inter-eye distance (8-80 px), false detections, ms per 960x540 frame (1 thread)."""
    import numpy as np

    from laneface.detection.factory import build_detector
    from laneface.evaluation.bench_detect import bench_detector, save_recall_plot

    settings = settings_of(ctx)
    store = store_of(ctx)
    paths = sorted(lfw_dir.glob("*/*.jpg"))
    if not paths:
        raise InvalidDatasetError(f"no LFW images (*/*.jpg) under {lfw_dir}")
    rng = np.random.default_rng(seed)
    chosen = [paths[i] for i in rng.choice(len(paths), size=min(faces, len(paths)), replace=False)]
    ied_values = [float(v) for v in ieds.split(",") if v.strip()]
    results = []
    for item in [d.strip() for d in detectors.split(",") if d.strip()]:
        name, _, scaling = item.partition("@")
        upd: dict[str, object] = {"num_threads": 1}
        if scaling:
            up, _, tile = scaling.partition("x")
            upd["upscale"] = float(up)
            upd["tile_size"] = int(tile or 0)
        det = build_detector(name, store, settings.detection.model_copy(update=upd))
        res = bench_detector(det, chosen, ied_values, no_face_path=no_face, seed=seed, progress=log.info)
        results.append(res)
        typer.echo(
            f"{res.detector}: "
            + ", ".join(f"{i:g}px {r:.2f}" for i, r in zip(res.ied_px, res.recall, strict=True))
            + f" | {res.ms_per_frame_960x540:.1f} ms/frame | false/frame {res.false_detections_per_frame:.3f}"
            + f" | no-face sample {res.false_detections_no_face_sample}",
            err=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(r) for r in results]
    (out / "bench_detect.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    save_recall_plot(results, out / "recall_vs_ied.png")
    emit_json(rows)

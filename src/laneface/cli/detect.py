"""`laneface detect IMAGE...`: faces, landmarks and scores per image."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.detection.factory import build_detector
from laneface.imageio import ImageLimits, read_image


def detect_command(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, BMP, TIFF, WebP, GIF, PPM).")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "auto",
    upscale: Annotated[float | None, typer.Option(help="Resize factor before detection (small faces).")] = None,
    tile: Annotated[int | None, typer.Option(help="Tile side in pixels after upscaling (0 = none).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Detect faces: pixel boxes (x0, y0, x1, y1), 5 landmarks, score, inter-eye distance."""
    settings = settings_of(ctx)
    det_settings = settings.detection.model_copy(
        update={k: v for k, v in {"upscale": upscale, "tile_size": tile}.items() if v is not None}
    )
    det = build_detector(detector, store_of(ctx), det_settings)
    limits = ImageLimits(max_bytes=settings.images.max_bytes, max_pixels=settings.images.max_pixels)
    out: list[dict[str, Any]] = []
    for path in images:
        dets = det.detect(read_image(path, limits=limits))
        faces = [
            {
                "box_xyxy": [round(float(v), 1) for v in dets.boxes_xyxy[i]],
                "landmarks_xy": [[round(float(v), 1) for v in p] for p in dets.landmarks_xy[i]],
                "score": round(float(dets.scores[i]), 4),
                "inter_eye_distance_px": round(float(dets.inter_eye_distance_px[i]), 1),
            }
            for i in range(len(dets))
        ]
        out.append({"image": str(path), "detector": det.name, "faces": faces})
    if as_json:
        emit_json(out)
        return
    for item in out:
        found = item["faces"]
        typer.echo(f"{item['image']}: {len(found)} face(s) [{item['detector']}]")
        for f in found:
            typer.echo(f"  box {f['box_xyxy']} score {f['score']} IED {f['inter_eye_distance_px']} px")

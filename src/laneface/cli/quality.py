"""`laneface quality IMAGE...`: quality measures and the profile verdict of every face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.detection.factory import build_detector
from laneface.imageio import ImageLimits, read_image
from laneface.quality.assessor import QualityAssessor
from laneface.quality.base import QualityReport

__all__ = ["quality_command"]

NO_FACE = "no face detected"


def _face_record(image: Path, index: int, box: Any, report: QualityReport) -> dict[str, Any]:
    return {
        "image": str(image),
        "face_index": index,
        "box_xyxy": [round(float(v), 1) for v in box],
        **report.as_dict(),
    }


def _no_face_record(image: Path, profile: str) -> dict[str, Any]:
    return {
        "image": str(image),
        "face_index": None,
        "box_xyxy": None,
        "unified": None,
        "passed": False,
        "failed": [NO_FACE],
        "profile": profile,
        "measures": {},
    }


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


def _print_tables(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
    for rec in records:
        verdict = "PASS" if rec["passed"] else "FAIL"
        if rec["face_index"] is None:
            console.print(f"{rec['image']}: {NO_FACE} - {verdict} ({rec['profile']})")
            continue
        title = (
            f"{rec['image']} face {rec['face_index']} box {rec['box_xyxy']}: {verdict} "
            f"({rec['profile']}), unified {_fmt(rec['unified'])}"
        )
        table = Table(title=title, title_justify="left")
        for column in ("measure", "raw", "scalar", "status"):
            table.add_column(column, justify="left" if column in ("measure", "status") else "right")
        for name, m in rec["measures"].items():
            scalar = "-" if m["scalar"] is None else f"{m['scalar']:.0f}"
            table.add_row(name, _fmt(m["raw"]), scalar, m["status"])
        console.print(table)
        for reason in rec["failed"]:
            console.print(f"  not met: {reason}")


def quality_command(
    ctx: typer.Context,
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, BMP, TIFF, WebP, GIF, PPM).")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "auto",
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Validation profile: document, vehicle, lenient or a user one.")
    ] = "vehicle",
    profiles_file: Annotated[
        Path | None,
        typer.Option("--profiles-file", help="TOML file with extra or replaced profiles and mappings."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: a list with one object per face.")] = False,
) -> None:
    """Assess face quality: measures (raw, 0-100 scalar, status) and the profile's pass/fail per face."""
    settings = settings_of(ctx)
    assessor = QualityAssessor.from_config(profile, profiles_file)
    det = build_detector(detector, store_of(ctx), settings.detection)
    limits = ImageLimits(max_bytes=settings.images.max_bytes, max_pixels=settings.images.max_pixels)
    records: list[dict[str, Any]] = []
    for path in images:
        image_rgb = read_image(path, limits=limits)
        dets = det.detect(image_rgb)
        reports = assessor.assess(image_rgb, dets)
        if not reports:
            records.append(_no_face_record(path, assessor.profile.name))
        records.extend(_face_record(path, i, dets.boxes_xyxy[i], r) for i, r in enumerate(reports))
    if as_json:
        emit_json(records)
    else:
        _print_tables(records)

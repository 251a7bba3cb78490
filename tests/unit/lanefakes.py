"""Fakes for the lane pipeline tests: faces are solid colour squares on black frames, a colour is an
identity (its template is a random unit vector seeded by the colour), quality depends on the face size."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from laneface.alignment import template
from laneface.embedding.base import template_crops
from laneface.gallery.store import Gallery, GalleryConfig
from laneface.gallery.thresholds import ThresholdSet, ThresholdTable
from laneface.matching import Matcher
from laneface.quality.base import QualityReport
from laneface.types import FaceDetections, Template, TemplateBatch

MODEL = "fake-lane@v1"
DIM = 64
# FMR grid -> threshold for random 64-d unit vectors (impostor cosine ~ N(0, 0.125))
FMR_POINTS = tuple((float(f"1e-{k}"), 0.25 + 0.06 * k) for k in range(1, 11))


def colour_vector(rgb: Sequence[int]) -> np.ndarray:
    r, g, b = (int(v) for v in rgb)
    v = np.random.default_rng(r * 65536 + g * 256 + b).standard_normal(DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def thresholds() -> ThresholdSet:
    return ThresholdSet(MODEL, 10**10, tuple(sorted(FMR_POINTS, reverse=True)))


def write_thresholds(data_dir: Path) -> None:
    ThresholdTable({MODEL: thresholds()}).save(data_dir / "thresholds.json")


def gallery_with(data_dir: Path, docs: dict[str, tuple[int, int, int]]) -> Gallery:
    g = Gallery.open(data_dir, MODEL, config=GalleryConfig(backend="exact"))
    for doc_id, rgb in docs.items():
        g.enrol(doc_id, Template(colour_vector(rgb), MODEL))
    return g


def matcher_with(data_dir: Path, docs: dict[str, tuple[int, int, int]]) -> Matcher:
    return Matcher(gallery_with(data_dir, docs), thresholds())


class ColourDetector:
    """Every non-black colour is one face: its bounding box, landmarks at fixed places in the box."""

    name = "colour-detector"

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        self.calls += 1
        flat = image_rgb.reshape(-1, 3)
        mask = flat.any(axis=1)
        if not mask.any():
            return FaceDetections.empty(self.name)
        colours = np.unique(flat[mask], axis=0)
        boxes, lms = [], []
        for c in colours:
            ys, xs = np.nonzero((image_rgb == c).all(axis=2))
            if len(xs) < 16:
                continue
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            bw, bh = x1 - x0, y1 - y0
            boxes.append([x0, y0, x1, y1])
            lms.append(
                [
                    [x0 + 0.3 * bw, y0 + 0.4 * bh],
                    [x0 + 0.7 * bw, y0 + 0.4 * bh],
                    [x0 + 0.5 * bw, y0 + 0.55 * bh],
                    [x0 + 0.35 * bw, y0 + 0.75 * bh],
                    [x0 + 0.65 * bw, y0 + 0.75 * bh],
                ]
            )
        if not boxes:
            return FaceDetections.empty(self.name)
        n = len(boxes)
        return FaceDetections(
            np.array(boxes, np.float32), np.array(lms, np.float32), np.full(n, 0.95, np.float32), self.name
        )


class ColourEmbedder:
    """Template of the colour at the centre of the aligned crop."""

    name = "colour-embedder"
    model_version = MODEL
    alignment = template("arcface_112")

    def __init__(self) -> None:
        self.embedded = 0

    def crops(self, image_rgb: np.ndarray, detections: FaceDetections) -> list[np.ndarray]:
        return template_crops(image_rgb, detections, self.alignment)

    def embed(self, crops_rgb: Sequence[np.ndarray]) -> TemplateBatch:
        self.embedded += len(crops_rgb)
        vecs = [colour_vector(np.median(c[50:62, 50:62].reshape(-1, 3), axis=0).round()) for c in crops_rgb]
        return TemplateBatch(np.array(vecs, np.float32).reshape(-1, DIM), MODEL)


class SizeQuality:
    """Passes a face whose box side is at least ``min_side`` px; unified score = the side (max 100)."""

    def __init__(self, min_side: float = 30.0) -> None:
        self.min_side = min_side
        self.faces = 0

    def assess(self, image_rgb: np.ndarray, detections: FaceDetections) -> list[QualityReport]:
        out = []
        for box in detections.boxes_xyxy:
            self.faces += 1
            side = float(min(box[2] - box[0], box[3] - box[1]))
            ok = side >= self.min_side
            failed = () if ok else (f"face_size >= {self.min_side} (got {side:.0f})",)
            out.append(QualityReport({}, min(100.0, side), "vehicle", ok, failed))
        return out


@dataclass(frozen=True)
class FakeFace:
    colour: tuple[int, int, int]
    x: float  # top-left at frame 0
    y: float
    side: float
    dx: float = 2.0  # px per frame
    grow: float = 0.0  # px of side per frame
    frames: tuple[int, int] = (0, 10**6)  # visible in [first, last)


def render(faces: Sequence[FakeFace], n_frames: int, size_wh: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    out = []
    for i in range(n_frames):
        img = np.zeros((size_wh[1], size_wh[0], 3), np.uint8)
        for f in faces:
            if not f.frames[0] <= i < f.frames[1]:
                continue
            side = f.side + f.grow * i
            x0, y0 = round(f.x + f.dx * i), round(f.y)
            img[max(0, y0) : max(0, y0 + int(side)), max(0, x0) : max(0, x0 + int(side))] = f.colour
        out.append(img)
    return out


def write_passage(
    directory: Path,
    cameras: dict[str, tuple[str, Sequence[FakeFace]]],
    *,
    documents: Sequence[str] = (),
    direction: str = "inbound",
    passage_id: str = "P-1",
    n_frames: int = 12,
    fps: float = 10.0,
) -> Path:
    """A passage with one frame folder per camera (``cameras``: name -> (view, faces))."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = {}
    for name, (view, faces) in cameras.items():
        folder = directory / f"cam_{name}"
        folder.mkdir()
        for i, img in enumerate(render(faces, n_frames)):
            Image.fromarray(img).save(folder / f"{i:05d}.png")
        spec[name] = {"file": f"cam_{name}", "view": view, "fps": fps}
    meta = {
        "passage_id": passage_id,
        "lane": "L1",
        "direction": direction,
        "started_at": "2026-11-22T10:00:00Z",
        "documents": list(documents),
        "cameras": spec,
    }
    (directory / "passage.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory

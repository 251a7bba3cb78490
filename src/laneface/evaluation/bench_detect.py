"""`laneface bench detect`: recall versus face size, false detections, and speed, per detector.

Faces: LFW deep-funneled images, whose funnelled faces sit at a near-constant place (median eye
centres (104.0, 112.4) and (147.7, 111.9) in the 250x250 image, measured with YuNet on 400 images, std
about 5 px). Each image is scaled so that this inter-eye distance (IED) becomes the target, and pasted
at a random place into a 960x540 frame of smooth random background. A face counts as found when a
detection's box contains the true eye midpoint and the box width is within [0.5, 2.5] x the expected
face width (2.3 x IED). A detection whose centre lies outside the pasted photo is a false detection
(LFW photos often show other people's faces, so detections inside the photo are not counted as false).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.imageio import read_image
from laneface.types import FaceDetections

__all__ = ["LFW_EYES_250", "DetectBenchResult", "bench_detector", "make_frame"]

LFW_EYES_250 = np.array([[104.0, 112.4], [147.7, 111.9]])
FRAME_WH = (960, 540)


@dataclass(frozen=True)
class DetectBenchResult:
    detector: str
    ied_px: list[float]
    recall: list[float]  # share of pasted faces found, per IED
    faces_per_size: int
    false_detections_per_frame: float  # on the synthetic frames, outside the pasted photo
    false_detections_no_face_sample: int  # on samples/misc/no_face.png
    ms_per_frame_960x540: float  # median, single thread, full frame
    extra: dict[str, float] = field(default_factory=dict)


def _background(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    import cv2

    w, h = FRAME_WH
    small = rng.integers(30, 220, size=(6, 10, 3)).astype(np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    noise = rng.normal(0, 6, size=bg.shape)
    return np.clip(bg.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def make_frame(
    face_rgb: npt.NDArray[np.uint8], ied_px: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64], tuple[int, int, int, int]]:
    """Paste a 250x250 LFW image scaled to ``ied_px`` into a frame.

    Returns the frame, the true eye centres (2, 2) and the pasted photo's rectangle (x0, y0, x1, y1).
    """
    import cv2

    frame = _background(rng)
    w, h = FRAME_WH
    scale = ied_px / float(np.linalg.norm(LFW_EYES_250[1] - LFW_EYES_250[0]))
    size = max(4, round(250 * scale))
    face = cv2.resize(face_rgb, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    max_x, max_y = max(0, w - size), max(0, h - size)
    x0 = int(rng.integers(0, max_x + 1)) if max_x else (w - size) // 2
    y0 = int(rng.integers(0, max_y + 1)) if max_y else (h - size) // 2
    fx0, fy0 = max(0, -x0), max(0, -y0)
    px0, py0 = max(0, x0), max(0, y0)
    pw, ph = min(w - px0, size - fx0), min(h - py0, size - fy0)
    frame[py0 : py0 + ph, px0 : px0 + pw] = face[fy0 : fy0 + ph, fx0 : fx0 + pw]
    eyes = LFW_EYES_250 * (size / 250.0) + np.array([x0, y0])
    return frame, eyes, (px0, py0, px0 + pw, py0 + ph)


def _found(
    dets: FaceDetections, eyes: npt.NDArray[np.float64], photo_xyxy: tuple[int, int, int, int]
) -> tuple[bool, int]:
    """Whether the face was found, and how many detections lie outside the pasted photo."""
    if len(dets) == 0:
        return False, 0
    mid = eyes.mean(axis=0)
    ied = float(np.linalg.norm(eyes[1] - eyes[0]))
    b = dets.boxes_xyxy
    contains = (b[:, 0] <= mid[0]) & (mid[0] <= b[:, 2]) & (b[:, 1] <= mid[1]) & (mid[1] <= b[:, 3])
    width = b[:, 2] - b[:, 0]
    ok = contains & (width >= 0.5 * 2.3 * ied) & (width <= 2.5 * 2.3 * ied)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    x0, y0, x1, y1 = photo_xyxy
    outside = (cx < x0) | (cx > x1) | (cy < y0) | (cy > y1)
    return bool(ok.any()), int(outside.sum())


def bench_detector(
    detector: FaceDetector,
    face_paths: Sequence[Path],
    ied_values: Sequence[float],
    *,
    no_face_path: Path | None = None,
    seed: int = 0,
    timing_frames: int = 20,
    progress: Callable[[str], None] | None = None,
) -> DetectBenchResult:
    faces = [read_image(p) for p in face_paths]
    recall: list[float] = []
    false_total, frames = 0, 0
    for ied in ied_values:
        rng = np.random.default_rng(seed + int(ied * 100))
        hits = 0
        for face in faces:
            frame, eyes, photo = make_frame(face, ied, rng)
            hit, others = _found(detector.detect(frame), eyes, photo)
            hits += hit
            false_total += others
            frames += 1
        recall.append(hits / len(faces))
        if progress is not None:
            progress(f"{detector.name}: IED {ied:g}px recall {recall[-1]:.3f}")
    no_face = len(detector.detect(read_image(no_face_path))) if no_face_path is not None else -1
    rng = np.random.default_rng(seed)
    frame, _, _ = make_frame(faces[0], 30.0, rng)
    detector.detect(frame)  # warm-up
    times = []
    for _ in range(timing_frames):
        t = time.perf_counter()
        detector.detect(frame)
        times.append((time.perf_counter() - t) * 1000.0)
    return DetectBenchResult(
        detector=detector.name,
        ied_px=[float(v) for v in ied_values],
        recall=recall,
        faces_per_size=len(faces),
        false_detections_per_frame=false_total / max(1, frames),
        false_detections_no_face_sample=no_face,
        ms_per_frame_960x540=float(np.median(times)),
    )


def save_recall_plot(results: Sequence[DetectBenchResult], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for r in results:
        ax.plot(r.ied_px, r.recall, marker="o", label=r.detector)
    ax.axvspan(15, 20, color="grey", alpha=0.15, label="rear-row faces (15-20 px)")
    ax.set_xscale("log")
    ax.set_xlabel("inter-eye distance (px)")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Detection recall versus face size (LFW faces in 960x540 frames)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path

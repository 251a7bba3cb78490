"""Best-shot selection: which faces of a track are assessed, which are embedded, which one represents an
occupant.

Assessing every face of every frame would cost more than the lane's time budget, so selection runs in two
steps:

1. while frames are read, :class:`CandidateBuffer` keeps, per track, the ``keep`` faces with the highest
   :func:`proxy_score` (detector confidence x face size x frontality, from the box and landmarks only)
   as small image patches around the face (the frame itself is not kept);
2. at the end of the passage, the kept faces are assessed with the quality profile (``vehicle``) and ranked
   by :func:`rank_key`: faces that pass the profile first, then by the unified quality score.

The best shot of an occupant is the best-ranked face among its tracks; its template may aggregate several
top shots (:func:`aggregate_templates`, weights = unified quality).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from laneface.quality.base import QualityReport
from laneface.types import FaceDetections, Template

__all__ = [
    "CandidateBuffer",
    "FaceCandidate",
    "QualityGate",
    "Shot",
    "aggregate_templates",
    "assess_candidates",
    "proxy_score",
    "rank_key",
]

RgbImage = npt.NDArray[np.uint8]


class QualityGate(Protocol):
    """The part of :class:`~laneface.quality.QualityAssessor` selection uses."""

    def assess(self, image_rgb: RgbImage, detections: FaceDetections) -> list[QualityReport]: ...


def proxy_score(landmarks_xy: npt.ArrayLike, detection_score: float, *, full_size_ied: float = 40.0) -> float:
    """A cheap pre-quality in [0, 1]: detector score x size (inter-eye distance / ``full_size_ied``, capped
    at 1) x frontality (1 when the nose is midway between the eyes, 0 at half an inter-eye distance off)."""
    lm = np.asarray(landmarks_xy, dtype=np.float64).reshape(5, 2)
    eyes = lm[1] - lm[0]
    ied = float(math.hypot(eyes[0], eyes[1]))
    if ied <= 1e-6:
        return 0.0
    mid = (lm[0] + lm[1]) / 2.0
    # offset of the nose from the eye midpoint, along the eye axis, in inter-eye distances
    offset = abs(float(np.dot(lm[2] - mid, eyes)) / (ied * ied))
    frontal = max(0.0, 1.0 - 2.0 * offset)
    size = min(1.0, ied / full_size_ied)
    return max(0.0, float(detection_score)) * size * (0.2 + 0.8 * frontal)


@dataclass(frozen=True, eq=False)
class FaceCandidate:
    """A face kept for assessment: a patch of its frame around it and the face in patch coordinates, and
    its box as detected in the frame."""

    camera: str
    track_id: int
    frame_index: int
    timestamp_s: float
    patch_rgb: RgbImage
    face: FaceDetections  # one face, coordinates of ``patch_rgb``
    origin_xy: tuple[int, int]  # top-left corner of the patch in the frame
    proxy: float
    frame_box_xyxy: tuple[float, float, float, float]  # the face's box in frame coordinates


@dataclass(frozen=True, eq=False)
class Shot:
    """An assessed candidate."""

    candidate: FaceCandidate
    report: QualityReport

    @property
    def passed(self) -> bool:
        return self.report.passed

    @property
    def unified(self) -> float:
        """The unified quality score (0 when it could not be computed)."""
        return float(self.report.unified) if self.report.unified is not None else 0.0


def rank_key(shot: Shot) -> tuple[int, float, float, int]:
    """Sort key, larger = better: passes the profile, unified score, proxy score, earlier frame."""
    return (int(shot.passed), shot.unified, shot.candidate.proxy, -shot.candidate.frame_index)


def _patch(
    image_rgb: RgbImage, detections: FaceDetections, index: int, margin: float
) -> tuple[RgbImage, FaceDetections, tuple[int, int]]:
    h, w = image_rgb.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in detections.boxes_xyxy[index])
    lm = detections.landmarks_xy[index]
    side = max(x1 - x0, y1 - y0, 1.0)
    pad = margin * side
    left = int(max(0, math.floor(min(x0, float(lm[:, 0].min())) - pad)))
    top = int(max(0, math.floor(min(y0, float(lm[:, 1].min())) - pad)))
    right = int(min(w, math.ceil(max(x1, float(lm[:, 0].max())) + pad)))
    bottom = int(min(h, math.ceil(max(y1, float(lm[:, 1].max())) + pad)))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    patch = np.ascontiguousarray(image_rgb[top:bottom, left:right])
    return patch, detections[index : index + 1].shifted(-left, -top), (left, top)


@dataclass
class CandidateBuffer:
    """Keeps, per (camera, track), the ``keep`` faces with the best proxy score as patches of ``margin``
    face sizes around the face (enough for every aligner, including dlib's face chip)."""

    keep: int = 4
    margin: float = 0.8
    _heaps: dict[tuple[str, int], list[tuple[float, int, FaceCandidate]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _seq: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"keep must be at least 1, got {self.keep}")

    def offer(
        self,
        camera: str,
        track_id: int,
        frame_index: int,
        timestamp_s: float,
        image_rgb: RgbImage,
        detections: FaceDetections,
        index: int,
    ) -> bool:
        """Consider face ``index`` of ``detections``; returns True when it is kept (for now)."""
        proxy = proxy_score(detections.landmarks_xy[index], float(detections.scores[index]))
        heap = self._heaps.setdefault((camera, track_id), [])
        if len(heap) >= self.keep and proxy <= heap[0][0]:
            return False
        patch, face, origin = _patch(image_rgb, detections, index, self.margin)
        x0, y0, x1, y1 = (float(v) for v in detections.boxes_xyxy[index])
        cand = FaceCandidate(camera, track_id, frame_index, timestamp_s, patch, face, origin, proxy, (x0, y0, x1, y1))
        self._seq += 1
        item = (proxy, -self._seq, cand)
        if len(heap) >= self.keep:
            heapq.heapreplace(heap, item)
        else:
            heapq.heappush(heap, item)
        return True

    def candidates(self, camera: str, track_id: int) -> list[FaceCandidate]:
        """Kept faces of a track, best proxy first."""
        heap = self._heaps.get((camera, track_id), [])
        return [c for _, _, c in sorted(heap, key=lambda x: (-x[0], x[1]))]

    def clear(self) -> None:
        self._heaps.clear()


def assess_candidates(gate: QualityGate, candidates: Sequence[FaceCandidate]) -> list[Shot]:
    """Assess each candidate with ``gate`` and return the shots best first (:func:`rank_key`)."""
    shots = [Shot(c, gate.assess(c.patch_rgb, c.face)[0]) for c in candidates]
    return sorted(shots, key=rank_key, reverse=True)


def aggregate_templates(templates: Sequence[Template], weights: Sequence[float] | None = None) -> Template:
    """Weighted mean of L2-normalised templates of one model version, normalised again.

    Weights default to 1; non-positive weights count as a small positive weight so that a set of
    zero-quality shots still gives a template. Raises ``ValueError`` on an empty list or mixed versions.
    """
    if not templates:
        raise ValueError("no template to aggregate")
    versions = {t.model_version for t in templates}
    if len(versions) != 1:
        raise ValueError(f"templates of several model versions cannot be aggregated: {sorted(versions)}")
    w = np.ones(len(templates)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(templates),):
        raise ValueError(f"{len(templates)} templates but {w.shape} weights")
    w = np.where(np.isfinite(w) & (w > 0), w, 1e-3)
    mean = (np.stack([t.vector for t in templates]).astype(np.float64) * w[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm <= 1e-12:
        return templates[int(np.argmax(w))]
    return Template((mean / norm).astype(np.float32), templates[0].model_version)

"""Typed values passed between pipeline stages.

Conventions (one for the whole code base):

* images are ``numpy.ndarray`` of ``uint8``, shape ``(H, W, 3)``, **RGB** channel order, C-contiguous;
  variables holding them end in ``_rgb``;
* boxes are pixel ``xyxy`` float32 (``x0, y0, x1, y1``; ``x1 > x0``), variables end in ``_xyxy``;
* landmarks are pixel ``(x, y)`` float32 in this order: eye on the image's left (the subject's right
  eye), eye on the image's right, nose tip, mouth corner on the image's left, mouth corner on the image's
  right; shape ``(N, 5, 2)``; variables end in ``_xy``;
* templates (embeddings) are float32, L2-normalised; higher comparison score = more similar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Decision", "Direction", "FaceDetections", "MatchDecision", "Template", "TemplateBatch"]

Direction = Literal["inbound", "outbound"]
"""The way a vehicle crosses the border at a lane (passage.json, lane.toml, records, the API)."""
MatchDecision = Literal["match", "no_match"]
"""A comparison's score against a threshold: ``match`` when ``score >= threshold``."""
Decision = Literal[MatchDecision, "not_captured"]
"""The outcome for one occupant of a passage: a match decision, or no usable face was captured."""

FloatArray = npt.NDArray[np.float32]


def _as_f32(a: npt.ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    arr = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    if arr.ndim != len(shape) or any(s != -1 and s != d for s, d in zip(shape, arr.shape, strict=False)):
        raise ValueError(f"{name} must have shape {shape} (-1 = any), got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class FaceDetections:
    """Faces found in one image: parallel arrays, one row per face (possibly zero rows)."""

    boxes_xyxy: FloatArray  # (N, 4)
    landmarks_xy: FloatArray  # (N, 5, 2)
    scores: FloatArray  # (N,), detector confidence, higher = more confident
    detector: str = ""

    def __post_init__(self) -> None:
        boxes = _as_f32(self.boxes_xyxy, (-1, 4), "boxes_xyxy")
        lms = _as_f32(self.landmarks_xy, (-1, 5, 2), "landmarks_xy")
        scores = _as_f32(self.scores, (-1,), "scores")
        if not (len(boxes) == len(lms) == len(scores)):
            raise ValueError(
                f"parallel arrays differ in length: boxes {len(boxes)}, landmarks {len(lms)}, scores {len(scores)}"
            )
        object.__setattr__(self, "boxes_xyxy", boxes)
        object.__setattr__(self, "landmarks_xy", lms)
        object.__setattr__(self, "scores", scores)

    @classmethod
    def empty(cls, detector: str = "") -> FaceDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros((0,), np.float32), detector)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def __getitem__(self, index: int | slice | npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> FaceDetections:
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return FaceDetections(self.boxes_xyxy[idx], self.landmarks_xy[idx], self.scores[idx], self.detector)

    @property
    def inter_eye_distance_px(self) -> FloatArray:
        """Distance in pixels between the two eye landmarks, one value per face."""
        d = self.landmarks_xy[:, 1, :] - self.landmarks_xy[:, 0, :]
        return np.asarray(np.sqrt((d**2).sum(axis=1)), dtype=np.float32)

    def shifted(self, dx: float, dy: float) -> FaceDetections:
        """A copy with boxes and landmarks moved by ``(dx, dy)`` pixels, e.g. from a crop's coordinates to
        the image's (offset added in float32, the arrays' own type)."""
        offset = np.array([dx, dy], dtype=np.float32)
        return FaceDetections(
            self.boxes_xyxy + np.tile(offset, 2), self.landmarks_xy + offset, self.scores, self.detector
        )

    @staticmethod
    def concatenate(parts: list[FaceDetections], detector: str = "") -> FaceDetections:
        if not parts:
            return FaceDetections.empty(detector)
        return FaceDetections(
            np.concatenate([p.boxes_xyxy for p in parts]),
            np.concatenate([p.landmarks_xy for p in parts]),
            np.concatenate([p.scores for p in parts]),
            detector or parts[0].detector,
        )


@dataclass(frozen=True)
class Template:
    """One face template: an L2-normalised float32 vector and the model version that made it."""

    vector: FloatArray  # (D,)
    model_version: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "vector", _as_f32(self.vector, (-1,), "vector"))

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])


@dataclass(frozen=True)
class TemplateBatch:
    """Templates of several faces made by one model version: ``vectors`` (N, D) L2-normalised float32."""

    vectors: FloatArray
    model_version: str
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vectors", _as_f32(self.vectors, (-1, -1), "vectors"))

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def __getitem__(self, i: int) -> Template:
        return Template(self.vectors[i], self.model_version)

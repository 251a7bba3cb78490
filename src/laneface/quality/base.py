"""Values shared by every quality measure: the face sample, a measure's result, the report of one face.

A :class:`FaceSample` is made once per detected face: the image, the detector's box, landmarks and score,
and the aligned quality crop (:data:`laneface.quality.template.QUALITY_128`). Values derived from the crop
(grey levels, CIE Lab, the face-region histograms) and the head pose are computed on first use and kept on
the sample, so every measure shares them.

Each measure returns a :class:`MeasureResult` with its native value (``raw``, in the unit its module
documents) and a status. The :class:`~laneface.quality.assessor.QualityAssessor` then maps ``raw`` to the
0-100 ``scalar`` through the configured :class:`~laneface.quality.mapping.SigmoidMapping`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from laneface.quality.headpose import HeadPose, estimate_head_pose
from laneface.quality.template import QUALITY_128, FaceHistograms, face_histograms, make_quality_crop

if TYPE_CHECKING:
    from laneface.types import FaceDetections

__all__ = ["FaceSample", "MeasureResult", "MeasureStatus", "QualityMeasure", "QualityReport"]

MeasureStatus = Literal["ok", "failure_to_assess"]
FloatArray = npt.NDArray[np.float32]
RgbImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class MeasureResult:
    """One measure of one face.

    ``raw`` is the native value (unit given by the measure's module), ``scalar`` its 0-100 quality
    component (higher = better; ``None`` before mapping, when no mapping is configured, or on failure).
    ``status`` is ``"failure_to_assess"`` when the value could not be computed (then ``raw`` and
    ``scalar`` are ``None`` and ``reason`` says why). ``detail`` holds auxiliary numbers.
    """

    name: str
    raw: float | None
    scalar: float | None
    status: MeasureStatus
    detail: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""

    @classmethod
    def ok(cls, name: str, raw: float, detail: Mapping[str, float] | None = None) -> MeasureResult:
        value = float(raw)
        if not math.isfinite(value):
            return cls.failure(name, "the value is not finite")
        return cls(name, value, None, "ok", dict(detail or {}))

    @classmethod
    def failure(cls, name: str, reason: str) -> MeasureResult:
        return cls(name, None, None, "failure_to_assess", {}, reason)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form: raw, scalar, status, detail (rounded) and reason when failed."""
        out: dict[str, object] = {
            "raw": None if self.raw is None else round(self.raw, 4),
            "scalar": self.scalar,
            "status": self.status,
            "detail": {k: round(float(v), 4) for k, v in self.detail.items()},
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@runtime_checkable
class QualityMeasure(Protocol):
    """A quality measure: ``measure`` returns the raw value of one face (``scalar`` left ``None``)."""

    name: str

    def measure(self, sample: FaceSample) -> MeasureResult: ...


def _checked(a: npt.ArrayLike, shape: tuple[int, ...], name: str) -> FloatArray:
    arr = np.asarray(a, dtype=np.float32)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class FaceSample:
    """One detected face, with everything the measures read.

    ``crop_rgb`` is the face aligned to the quality template (``None`` when the landmarks are degenerate;
    measures that need it then fail to assess). Build it with :meth:`from_detection`.
    """

    image_rgb: RgbImage
    box_xyxy: FloatArray  # (4,)
    landmarks_xy: FloatArray  # (5, 2)
    detection_score: float
    crop_rgb: RgbImage | None

    def __post_init__(self) -> None:
        img = self.image_rgb
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError("image_rgb must be a (H, W, 3) uint8 array")
        object.__setattr__(self, "box_xyxy", _checked(self.box_xyxy, (4,), "box_xyxy"))
        object.__setattr__(self, "landmarks_xy", _checked(self.landmarks_xy, (5, 2), "landmarks_xy"))
        object.__setattr__(self, "detection_score", float(self.detection_score))
        crop = self.crop_rgb
        if crop is not None:
            w, h = QUALITY_128.size_wh
            if not isinstance(crop, np.ndarray) or crop.shape != (h, w, 3) or crop.dtype != np.uint8:
                raise ValueError(f"crop_rgb must be a ({h}, {w}, 3) uint8 array made with QUALITY_128")

    @classmethod
    def from_face(
        cls, image_rgb: RgbImage, box_xyxy: npt.ArrayLike, landmarks_xy: npt.ArrayLike, detection_score: float
    ) -> FaceSample:
        """A sample of one face; the quality crop is made here, once."""
        box = np.asarray(box_xyxy, dtype=np.float32)
        lms = np.asarray(landmarks_xy, dtype=np.float32)
        return cls(image_rgb, box, lms, detection_score, make_quality_crop(image_rgb, lms))

    @classmethod
    def from_detection(cls, image_rgb: RgbImage, detections: FaceDetections, index: int) -> FaceSample:
        """The sample of face ``index`` of ``detections`` found in ``image_rgb``."""
        return cls.from_face(
            image_rgb, detections.boxes_xyxy[index], detections.landmarks_xy[index], float(detections.scores[index])
        )

    @property
    def inter_eye_distance_px(self) -> float:
        d = self.landmarks_xy[1] - self.landmarks_xy[0]
        return float(np.hypot(d[0], d[1]))

    @cached_property
    def crop_gray(self) -> npt.NDArray[np.uint8] | None:
        """Luminance (ITU-R BT.601 weights, as cv2.COLOR_RGB2GRAY) of the crop."""
        import cv2

        if self.crop_rgb is None:
            return None
        return np.asarray(cv2.cvtColor(self.crop_rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)

    @cached_property
    def crop_lab(self) -> npt.NDArray[np.float32] | None:
        """CIE Lab of the crop in OpenCV's 8-bit scaling (L 0-255, a and b offset by 128), float32."""
        import cv2

        if self.crop_rgb is None:
            return None
        return np.asarray(cv2.cvtColor(self.crop_rgb, cv2.COLOR_RGB2LAB), dtype=np.float32)

    @cached_property
    def face_histograms(self) -> FaceHistograms | None:
        """Luminance histograms of the face region of the crop (left half, right half)."""
        gray = self.crop_gray
        return None if gray is None else face_histograms(gray)

    @cached_property
    def head_pose(self) -> HeadPose | None:
        """Yaw, pitch and roll fitted to the landmarks (``None`` when they cannot be fitted)."""
        return estimate_head_pose(self.landmarks_xy)


@dataclass(frozen=True)
class QualityReport:
    """The quality of one face: every measure, the unified score and the profile verdict.

    ``unified`` is the unified quality score, 0-100 (one decimal): 100 times the probability, predicted by
    :class:`~laneface.quality.unified.UnifiedQualityModel` from the measures, that the face matches its
    reference at the model's threshold; ``None`` without a model or when none of its measures could be
    assessed. ``passed`` is ``True`` when every requirement of ``profile`` is met; ``failed`` lists the
    requirements not met, as text like ``"inter_eye_distance >= 90 (got 41.2)"``.
    """

    measures: Mapping[str, MeasureResult]
    unified: float | None
    profile: str
    passed: bool
    failed: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form: unified, passed, failed, profile and measures {name: {raw, scalar, status, ...}}."""
        return {
            "unified": self.unified,
            "passed": self.passed,
            "failed": list(self.failed),
            "profile": self.profile,
            "measures": {name: r.as_dict() for name, r in self.measures.items()},
        }

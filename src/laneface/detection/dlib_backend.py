"""dlib face detectors (HOG + linear SVM, MMOD CNN) with canonical 5-point landmarks.

dlib's detectors give boxes only. Landmarks come from dlib's 5-point predictor (eye corners and nose
base); its face-chip transform maps the canonical template :data:`laneface.alignment.DLIB_150` back into
the image, which yields landmarks in the canonical order (eye centres, nose tip, mouth corners).
"""

from __future__ import annotations

import math
from pathlib import Path

import dlib
import numpy as np
import numpy.typing as npt

from laneface.alignment import DLIB_150, apply_affine, similarity_transform
from laneface.detection.base import validate_rgb
from laneface.types import FaceDetections

__all__ = ["DlibDetector", "dlib_chip_matrix"]


def dlib_chip_matrix(details: dlib.chip_details) -> npt.NDArray[np.float64]:
    """2x3 matrix image -> chip that reproduces ``dlib.extract_image_chip`` for ``details``."""
    r = details.rect
    cx, cy = (r.left() + r.right()) / 2.0, (r.top() + r.bottom()) / 2.0
    ca, sa = math.cos(details.angle), math.sin(details.angle)
    corners = [(r.left(), r.top()), (r.right(), r.top()), (r.right(), r.bottom()), (r.left(), r.bottom())]
    img_pts = [(cx + ca * (x - cx) - sa * (y - cy), cy + sa * (x - cx) + ca * (y - cy)) for x, y in corners]
    n = details.rows
    return similarity_transform(np.array(img_pts), np.array([(0, 0), (n - 1, 0), (n - 1, n - 1), (0, n - 1)]))


class DlibDetector:
    """dlib HOG (``mode="hog"``) or MMOD CNN (``mode="mmod"``) detector.

    Scores: dlib's detection margin passed through a logistic function, so 0.5 is dlib's own default
    decision threshold. ``upsample`` is dlib's pyramid up-sampling count (each doubles the image).
    """

    def __init__(
        self,
        mode: str,
        shape5_path: Path,
        *,
        mmod_path: Path | None = None,
        upsample: int = 0,
        score_threshold: float = 0.5,
    ) -> None:
        if mode not in ("hog", "mmod"):
            raise ValueError(f"mode must be 'hog' or 'mmod', got {mode!r}")
        if mode == "mmod" and mmod_path is None:
            raise ValueError("the MMOD detector needs mmod_path")
        self.name = f"dlib-{mode}"
        self._mode = mode
        self._upsample = int(upsample)
        self._threshold = float(score_threshold)
        self._margin = math.log(self._threshold / (1.0 - self._threshold)) if 0 < self._threshold < 1 else 0.0
        self._shape = dlib.shape_predictor(str(shape5_path))
        self._hog = dlib.get_frontal_face_detector() if mode == "hog" else None
        self._cnn = dlib.cnn_face_detection_model_v1(str(mmod_path)) if mode == "mmod" else None

    def _raw(self, image_rgb: npt.NDArray[np.uint8]) -> list[tuple[dlib.rectangle, float]]:
        if self._hog is not None:
            rects, margins, _ = self._hog.run(image_rgb, self._upsample, self._margin)
            return list(zip(rects, margins, strict=True))
        if self._cnn is None:
            raise RuntimeError("dlib detector has neither a HOG nor a CNN model")
        return [
            (d.rect, float(d.confidence)) for d in self._cnn(image_rgb, self._upsample) if d.confidence >= self._margin
        ]

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        validate_rgb(image_rgb)
        img = np.ascontiguousarray(image_rgb)
        h, w = img.shape[:2]
        tmpl = DLIB_150.as_array()
        boxes, lms, scores = [], [], []
        for rect, margin in self._raw(img):
            shape = self._shape(img, rect)
            m = dlib_chip_matrix(dlib.get_face_chip_details(shape, DLIB_150.size_wh[0], 0.25))
            inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
            lms.append(apply_affine(inv, tmpl))
            boxes.append([max(0, rect.left()), max(0, rect.top()), min(w, rect.right() + 1), min(h, rect.bottom() + 1)])
            scores.append(1.0 / (1.0 + math.exp(-float(margin))))
        if not boxes:
            return FaceDetections.empty(self.name)
        return FaceDetections(np.array(boxes), np.array(lms), np.array(scores), self.name)

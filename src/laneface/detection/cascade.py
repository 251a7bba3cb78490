"""A cascade of two detectors: the second runs only where the first finds no face.

Meant for images known to hold one face (document photos, LFW): dlib's fast HOG detector misses turned
heads that the slower MMOD CNN finds, so ``dlib-cascade`` keeps HOG's speed on most images. Not for lane
frames, where an empty frame is common and would always pay for the slow detector.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.types import FaceDetections

__all__ = ["CascadeDetector"]


class CascadeDetector:
    def __init__(self, primary: FaceDetector, fallback: FaceDetector, *, name: str | None = None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = name or f"{primary.name}>{fallback.name}"

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        found = self.primary.detect(image_rgb)
        if len(found) == 0:
            found = self.fallback.detect(image_rgb)
        return FaceDetections(found.boxes_xyxy, found.landmarks_xy, found.scores, self.name)

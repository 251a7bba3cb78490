"""``sharpness``: Laplacian energy relative to contrast on the inner face of the quality crop.

``raw = std(Laplacian(L)) / std(L)`` over :data:`~laneface.quality.template.INNER_FACE` (brows to chin),
with ``L`` the crop's luminance and the 4-neighbour Laplacian. Because the crop has a fixed scale (32 px
between the eyes) the value does not depend on the face's size in the image, and dividing by the
luminance spread makes it independent of exposure and contrast (darkening the face leaves it unchanged).
Blur lowers it monotonically; noise and JPEG ringing raise it. Typical values: LFW (deep-funneled)
median 0.37, 5th percentile 0.24; a motion-blurred face about 0.25; a Gaussian blur of sigma 2 px at the
crop scale roughly halves it.
"""

from __future__ import annotations

import numpy as np

from laneface.quality.base import FaceSample, MeasureResult
from laneface.quality.template import INNER_FACE, region

__all__ = ["SharpnessMeasure"]

_MIN_STD = 2.0


class SharpnessMeasure:
    name = "sharpness"

    def measure(self, sample: FaceSample) -> MeasureResult:
        import cv2

        gray = sample.crop_gray
        if gray is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        face = np.asarray(region(gray, INNER_FACE), dtype=np.float32)
        spread = float(face.std())
        if spread < _MIN_STD:
            return MeasureResult.failure(self.name, "the face region has no contrast")
        lap = cv2.Laplacian(face, cv2.CV_32F, ksize=1)[1:-1, 1:-1]
        energy = float(lap.std())
        return MeasureResult.ok(self.name, energy / spread, {"laplacian_std": energy, "luminance_std": spread})

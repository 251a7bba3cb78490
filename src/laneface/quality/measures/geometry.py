"""Face geometry in the original image: inter-eye distance and face size, both in pixels.

* ``inter_eye_distance``: Euclidean distance between the two eye landmarks (px). It shrinks with yaw
  (by ``cos(yaw)``), as the resolution across the face does.
* ``face_size``: square root of the detector box's area (px), the side of a square of the same area.
  Box extents differ between detectors (some include the forehead); prefer ``inter_eye_distance`` for
  thresholds that must hold across detectors.
"""

from __future__ import annotations

import math

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["FaceSizeMeasure", "InterEyeDistanceMeasure"]


class InterEyeDistanceMeasure:
    name = "inter_eye_distance"

    def measure(self, sample: FaceSample) -> MeasureResult:
        ied = sample.inter_eye_distance_px
        if not math.isfinite(ied):
            return MeasureResult.failure(self.name, "eye landmarks are not finite")
        return MeasureResult.ok(self.name, ied)


class FaceSizeMeasure:
    name = "face_size"

    def measure(self, sample: FaceSample) -> MeasureResult:
        x0, y0, x1, y1 = (float(v) for v in sample.box_xyxy)
        w, h = x1 - x0, y1 - y0
        if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
            return MeasureResult.failure(self.name, "the face box is empty or not finite")
        return MeasureResult.ok(self.name, math.sqrt(w * h), {"width_px": w, "height_px": h})

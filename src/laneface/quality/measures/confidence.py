"""``detection_confidence``: the detector's own score for the face (raw in the detector's scale, 0-1 for
every detector laneface ships). Scores of different detectors are not calibrated against each other."""

from __future__ import annotations

import math

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["DetectionConfidenceMeasure"]


class DetectionConfidenceMeasure:
    name = "detection_confidence"

    def measure(self, sample: FaceSample) -> MeasureResult:
        if not math.isfinite(sample.detection_score):
            return MeasureResult.failure(self.name, "the detection score is not finite")
        return MeasureResult.ok(self.name, sample.detection_score)

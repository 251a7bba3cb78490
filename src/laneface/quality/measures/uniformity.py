"""``illumination_uniformity``: how alike the lighting of the left and right halves of the face is.

``raw`` is the intersection of the two halves' normalised 32-bin luminance histograms (face ellipse of
the quality crop, split at the face's vertical centre line): 1 = identical distributions, 0 = disjoint
(one half in shadow). ``detail`` holds each half's mean luminance (0-1). A face turned far to one side
also scores lower, since the halves then show different parts of the head.
"""

from __future__ import annotations

import numpy as np

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["IlluminationUniformityMeasure"]

_BINS = 32


class IlluminationUniformityMeasure:
    name = "illumination_uniformity"

    def measure(self, sample: FaceSample) -> MeasureResult:
        hists = sample.face_histograms
        if hists is None or hists.left.sum() <= 0 or hists.right.sum() <= 0:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        levels = np.arange(256)
        means = [float((h * levels).sum() / h.sum()) / 255.0 for h in (hists.left, hists.right)]
        left = hists.left.reshape(_BINS, -1).sum(axis=1)
        right = hists.right.reshape(_BINS, -1).sum(axis=1)
        intersection = float(np.minimum(left / left.sum(), right / right.sum()).sum())
        return MeasureResult.ok(self.name, intersection, {"mean_left": means[0], "mean_right": means[1]})

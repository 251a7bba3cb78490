"""``lower_face_occlusion``: is the mouth hidden (face mask, scarf, hand)? raw 0-1, higher = more occluded.

The evidence of a visible mouth is taken from the mouth window of the quality crop (between the mouth
corners, 24 x 18 px) against a skin reference above any mask (glabella and the skin right under the
eyes), in CIE Lab:

* ``lip_redness``: 90th percentile of a* in the window minus the skin's median a* (lips are redder than
  skin; a mask or scarf is not); evidence ``clip(redness / 10, 0, 1)``;
* ``mouth_line``: depth of the deepest valley of the window's row-mean lightness profile (a row darker than
  rows both above and below it), relative to the skin's lightness: the line between the lips. A flat
  occluder, or the edge of one, makes no valley; evidence ``clip(line / 0.15, 0, 1)``.

``raw = 1 - max(both evidences)``. A beard does not count as occlusion while the lips show. Typical values
(YuNet landmarks): LFW 95th percentile 0.12, 99th 0.5 (0.7 when downscaled to 19 px between the eyes);
a surgical mask (samples/misc/mask2.jpg) 0.99; a flat patch over the mouth 1.0. Fails to assess when the
skin reference is darker than 10 lightness levels.
"""

from __future__ import annotations

import numpy as np

from laneface.quality._stats import quantile
from laneface.quality.base import FaceSample, MeasureResult
from laneface.quality.template import MOUTH, SKIN_REFERENCE, region

__all__ = ["LowerFaceOcclusionMeasure"]

_MIN_LIGHTNESS = 10.0
_REDNESS_FULL = 10.0
_LINE_FULL = 0.15


class LowerFaceOcclusionMeasure:
    name = "lower_face_occlusion"

    def measure(self, sample: FaceSample) -> MeasureResult:
        lab = sample.crop_lab
        if lab is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        skin = np.concatenate([region(lab, r).reshape(-1, 3) for r in SKIN_REFERENCE])
        skin_l = quantile(skin[:, 0], 0.5)
        skin_a = quantile(skin[:, 1], 0.5)
        if skin_l < _MIN_LIGHTNESS:
            return MeasureResult.failure(self.name, "the face is too dark to assess the mouth")
        mouth = region(lab, MOUTH)
        redness = quantile(mouth[:, :, 1], 0.9) - skin_a
        rows = mouth[:, :, 0].mean(axis=1)
        # depth of the deepest valley of the row profile: lighter rows above and below (an edge is no valley)
        rim = np.minimum(np.maximum.accumulate(rows), np.maximum.accumulate(rows[::-1])[::-1])
        line = float((rim - rows).max()) / skin_l
        evidence = max(min(1.0, max(0.0, redness / _REDNESS_FULL)), min(1.0, max(0.0, line / _LINE_FULL)))
        return MeasureResult.ok(self.name, 1.0 - evidence, {"lip_redness": redness, "mouth_line": line})

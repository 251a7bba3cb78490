"""``eyes_visible``: are both eyes open and unobstructed (no dark glasses, no glare)? raw 0-1, higher = better.

For each eye window of the quality crop (20 x 13 px around the eye landmark, 32 px between the eyes):

* ``contrast``: how much darker than the skin below the eyes the darkest **iris-sized** spot is,
  ``(skin - min(dilate(L, 5 px disc))) / skin``. The grey-level dilation erases dark structures thinner
  than an iris (the lash line of a closed eye), so an open eye (iris and pupil) keeps a high contrast and a
  closed one loses most of it;
* ``dark_fraction``: fraction of the window darker than half the skin luminance; dark glasses cover the
  whole window (above 0.9), an open eye rarely more than 0.7 of it;
* ``glare_fraction``: fraction of saturated pixels (>= 240 and brighter than 1.15 x skin): specular
  reflections on glasses (a pupil's catch-light is a few pixels).

``eye = contrast * clip((0.9 - dark) / 0.2, 0, 1) * clip(1 - (glare - 0.03) / 0.1, 0, 1)`` and
``raw = min(left eye, right eye)``: both eyes must be visible. A heuristic without a learned model: it
separates dark glasses and open eyes well; closed eyes score lower than open ones of the same person,
but the ranges of different people overlap (LFW open eyes: 5th percentile 0.16, median 0.43).
Fails to assess when the skin reference is darker than 10 grey levels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.quality._stats import quantile
from laneface.quality.base import FaceSample, MeasureResult
from laneface.quality.template import CHEEKS_UNDER_EYES, EYE_LEFT, EYE_RIGHT, Region, region

__all__ = ["EyesVisibleMeasure"]

_MIN_SKIN = 10.0


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _eye(gray: npt.NDArray[np.uint8], window: Region, skin: float, kernel: npt.NDArray[np.uint8]) -> dict[str, float]:
    import cv2

    patch = region(gray, window)
    opened = cv2.dilate(patch, kernel)
    darkest = float(opened[2:-2, 2:-2].min())
    contrast = _clip01((skin - darkest) / skin)
    dark = float((patch < 0.5 * skin).mean())
    glare = float((patch >= max(240.0, 1.15 * skin)).mean())
    visible = contrast * _clip01((0.9 - dark) / 0.2) * _clip01(1.0 - (glare - 0.03) / 0.1)
    return {"contrast": contrast, "dark_fraction": dark, "glare_fraction": glare, "visible": visible}


class EyesVisibleMeasure:
    name = "eyes_visible"

    def measure(self, sample: FaceSample) -> MeasureResult:
        import cv2

        gray = sample.crop_gray
        if gray is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        skin = quantile(np.concatenate([region(gray, r).ravel() for r in CHEEKS_UNDER_EYES]), 0.5)
        if skin < _MIN_SKIN:
            return MeasureResult.failure(self.name, "the face is too dark to see the eyes")
        kernel = np.asarray(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)), dtype=np.uint8)
        left = _eye(gray, EYE_LEFT, skin, kernel)
        right = _eye(gray, EYE_RIGHT, skin, kernel)
        detail = {f"left_{k}": v for k, v in left.items()} | {f"right_{k}": v for k, v in right.items()}
        return MeasureResult.ok(self.name, min(left["visible"], right["visible"]), detail)

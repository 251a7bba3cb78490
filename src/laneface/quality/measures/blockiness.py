"""``blockiness``: JPEG/MPEG 8x8 block artefacts in the face box of the original image (raw >= ~1, lower =
better).

On the luminance of the face box (at most its central 256 x 256 px, in original pixels: the crop's
resampling would hide the grid), the mean absolute difference between horizontally adjacent columns is
averaged per column phase ``x mod 8`` (and likewise for rows). Block edges make one phase stand out:
``ratio = (max phase + 0.5) / (median of the other phases + 0.5)``, ``raw`` = mean of the horizontal and
vertical ratios. Taking the strongest phase makes it insensitive to where the grid starts (a cropped
JPEG); the 0.5 grey-level offset keeps flat regions at 1. An uncompressed face is about 1.0-1.1, a JPEG
of quality 5 above 2. Images rescaled after compression lose the grid and read as unblocky. Fails to
assess when the box holds fewer than 16 x 16 pixels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["BlockinessMeasure"]

_MAX_SIDE = 256
_MIN_SIDE = 16
_OFFSET = 0.5


def _span(lo: float, hi: float, limit: int) -> tuple[int, int]:
    a, b = max(0, int(np.floor(lo))), min(limit, int(np.ceil(hi)))
    if b - a > _MAX_SIDE:
        mid = (a + b) // 2
        a, b = mid - _MAX_SIDE // 2, mid + _MAX_SIDE // 2
    return a, b


def _phase_ratio(diffs: npt.NDArray[np.float32], start: int) -> float:
    """``diffs[i]`` is the mean |difference| across the boundary between pixels start+i and start+i+1."""
    phases = (np.arange(diffs.shape[0]) + start + 1) % 8
    means = np.bincount(phases, weights=diffs, minlength=8) / np.bincount(phases, minlength=8)
    strongest = int(np.argmax(means))
    others = np.delete(means, strongest)
    return float((means[strongest] + _OFFSET) / (np.median(others) + _OFFSET))


class BlockinessMeasure:
    name = "blockiness"

    def measure(self, sample: FaceSample) -> MeasureResult:
        import cv2

        h, w = sample.image_rgb.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in sample.box_xyxy)
        if not all(np.isfinite([x0, y0, x1, y1])):
            return MeasureResult.failure(self.name, "the face box is not finite")
        xa, xb = _span(x0, x1, w)
        ya, yb = _span(y0, y1, h)
        if xb - xa < _MIN_SIDE or yb - ya < _MIN_SIDE:
            return MeasureResult.failure(self.name, "the face box is too small")
        gray = cv2.cvtColor(sample.image_rgb[ya:yb, xa:xb], cv2.COLOR_RGB2GRAY).astype(np.float32)
        horizontal = _phase_ratio(np.abs(np.diff(gray, axis=1)).mean(axis=0), xa)
        vertical = _phase_ratio(np.abs(np.diff(gray, axis=0)).mean(axis=1), ya)
        return MeasureResult.ok(
            self.name, (horizontal + vertical) / 2, {"horizontal": horizontal, "vertical": vertical}
        )

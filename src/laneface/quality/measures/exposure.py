"""Exposure of the face region (the ellipse of :mod:`laneface.quality.template`), from its luminance
histogram (BT.601 luma, 0-255):

* ``exposure``: mean luminance divided by 255 (0 black - 1 white); two-sided mapping around mid-grey;
  ``detail`` gives the under- and over-exposed fractions as well;
* ``under_exposure``: fraction of face pixels with luminance <= 25 (lower is better);
* ``over_exposure``: fraction of face pixels with luminance >= 247 (lower is better).

The thresholds 25 and 247 follow OFIQ's under/over-exposure prevention measures.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["BRIGHT_LEVEL", "DARK_LEVEL", "ExposureMeasure", "OverExposureMeasure", "UnderExposureMeasure"]

DARK_LEVEL = 25
BRIGHT_LEVEL = 247


def _histogram(sample: FaceSample) -> npt.NDArray[np.float64] | None:
    hists = sample.face_histograms
    if hists is None:
        return None
    total = hists.total
    return total if total.sum() > 0 else None


def _fractions(hist: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    n = float(hist.sum())
    mean = float((hist * np.arange(256)).sum() / n) / 255.0
    return mean, float(hist[: DARK_LEVEL + 1].sum() / n), float(hist[BRIGHT_LEVEL:].sum() / n)


class ExposureMeasure:
    name = "exposure"

    def measure(self, sample: FaceSample) -> MeasureResult:
        hist = _histogram(sample)
        if hist is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        mean, under, over = _fractions(hist)
        return MeasureResult.ok(self.name, mean, {"under_fraction": under, "over_fraction": over})


class UnderExposureMeasure:
    name = "under_exposure"

    def measure(self, sample: FaceSample) -> MeasureResult:
        hist = _histogram(sample)
        if hist is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        return MeasureResult.ok(self.name, _fractions(hist)[1])


class OverExposureMeasure:
    name = "over_exposure"

    def measure(self, sample: FaceSample) -> MeasureResult:
        hist = _histogram(sample)
        if hist is None:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        return MeasureResult.ok(self.name, _fractions(hist)[2])

"""``dynamic_range``: Shannon entropy (bits, 0-8) of the face region's 256-bin luminance histogram, as in
ISO/IEC 29794-5 and OFIQ. A face using few grey levels (flat light, crushed shadows, a low-bit camera)
scores low; a well exposed face is typically 6.5-7.5 bits. ``detail`` gives the 1st-99th percentile span."""

from __future__ import annotations

import numpy as np

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["DynamicRangeMeasure"]


class DynamicRangeMeasure:
    name = "dynamic_range"

    def measure(self, sample: FaceSample) -> MeasureResult:
        hists = sample.face_histograms
        if hists is None or hists.total.sum() <= 0:
            return MeasureResult.failure(self.name, "no aligned crop (degenerate landmarks)")
        hist = hists.total
        p = hist / hist.sum()
        nz = p[p > 0]
        entropy = float(-(nz * np.log2(nz)).sum())
        cdf = np.cumsum(p)
        lo = int(np.searchsorted(cdf, 0.01))
        hi = int(np.searchsorted(cdf, 0.99))
        return MeasureResult.ok(self.name, entropy, {"p1_p99_span": float(hi - lo)})

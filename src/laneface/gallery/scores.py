"""Comparison scores and the match rule every threshold in laneface follows.

* A higher score means more similar; a comparison is a **match** when ``score >= threshold``.
* A score of ``-inf`` marks a failure to acquire (FTA): it never matches, at any threshold. All other
  scores must be finite (``nan`` and ``+inf`` are refused).
* FMR (false match rate) is the share of impostor (non-mated) scores that match:
  ``mean(impostor >= threshold)``, failures to acquire staying in the denominator.

The evaluation metrics (:mod:`laneface.evaluation.metrics`) and the calibrated thresholds
(:mod:`laneface.gallery.thresholds`) both use these definitions.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["as_rate", "as_scores", "sorted_finite", "threshold_at_fmr"]

FloatArray = NDArray[np.float64]


def as_scores(values: ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array after checking it is usable as scores."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of scores, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: at least one score is needed")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; use -inf to mark a failure to acquire")
    if np.isposinf(arr).any():
        raise ValueError(f"{name} contains +inf; scores must be finite, or -inf for a failure to acquire")
    return arr


def as_rate(value: float, name: str) -> float:
    r = float(value)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return r


def sorted_finite(scores: FloatArray) -> FloatArray:
    return np.sort(scores[np.isfinite(scores)])


def threshold_at_fmr(impostor: ArrayLike, target_fmr: float) -> float:
    """Return the smallest threshold whose FMR is at most ``target_fmr``.

    The result is ``-inf`` when accepting every acquired impostor score already meets the target
    (e.g. ``target_fmr = 1``). Otherwise some impostor scores must be rejected, and the result is
    ``np.nextafter(s, inf)``: the float just above the highest impostor score ``s`` that has to be
    rejected. Every threshold ``t <= s`` has an FMR above the target, while at the returned value
    the FMR is at most the target.

    Ties: impostor scores equal to ``s`` are rejected together, so the FMR reached can be lower than
    ``target_fmr`` (e.g. 10 impostors all scoring 0.5 and ``target_fmr = 0.5`` give FMR 0).

    Raises:
        ValueError: an empty array, a NaN or +inf score, or ``target_fmr`` outside ``[0, 1]``.
    """
    imp_all = as_scores(impostor, "impostor")
    target = as_rate(target_fmr, "target_fmr")
    n = imp_all.size
    imp = sorted_finite(imp_all)
    allowed = math.floor(target * n)  # largest k with k / n <= target, guarded against rounding
    while allowed + 1 <= n and (allowed + 1) / n <= target:
        allowed += 1
    while allowed > 0 and allowed / n > target:
        allowed -= 1
    to_reject = imp.size - allowed
    if to_reject <= 0:
        return -math.inf
    return float(np.nextafter(imp[to_reject - 1], np.inf))

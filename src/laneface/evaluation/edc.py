"""Error-versus-Discard Characteristic (EDC) curves, ISO/IEC 29794-1.

An EDC shows how the false non-match rate at a **fixed** threshold falls as the probes of lowest quality
are discarded. Conventions:

* ``quality``: one value per mated comparison (higher = better). ``-inf`` is allowed and means "no quality
  at all" (a failure to acquire); NaN is refused.
* ``genuine``: the mated comparison scores; ``-inf`` (failure to acquire) never matches. A comparison is
  a false non-match when ``score < threshold`` (as in :mod:`laneface.evaluation.metrics`).
* Discarding a fraction ``f`` of ``n`` comparisons discards exactly ``k = floor(f * n + 0.5)`` of them
  (``f * n`` rounded, halves up), the ``k`` of lowest quality. Ties in quality at the cut are broken at
  random, with a seeded generator, so the same inputs and seed always give the same curve (a measure that
  cannot tell faces apart gets the random-discard result, not an arbitrary order of the input).
* FNMR after discarding ``k`` = false non-matches among the ``n - k`` kept / ``(n - k)``.
* Random discarding keeps, in expectation, the same share of errors: its EDC is the constant FNMR at 0
  discard (:func:`random_discard_curve`, exact, not a simulation). The ideal (oracle) quality discards
  the errors first (:func:`oracle_curve`).
* :func:`edc_area` is the area under the curve from 0 to ``max_fraction`` (trapezoidal over every
  discard count, the last segment interpolated to end exactly at ``max_fraction``; lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

__all__ = [
    "EdcCurve",
    "edc_area",
    "edc_curve",
    "oracle_curve",
    "random_discard_curve",
    "save_edc_plot",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class EdcCurve:
    """FNMR after discarding ``discarded[i]`` of ``n`` comparisons (``fractions[i] = discarded[i] / n``).

    Arrays are read-only, with ``discarded`` strictly increasing.
    """

    n: int
    discarded: npt.NDArray[np.int64]
    fractions: FloatArray
    fnmr: FloatArray

    def at(self, fraction: float) -> float:
        """The FNMR after discarding ``floor(fraction * n + 0.5)`` comparisons (a count the curve holds)."""
        k = _count(fraction, self.n)
        i = int(np.searchsorted(self.discarded, k))
        if i >= self.discarded.size or self.discarded[i] != k:
            raise ValueError(f"the curve holds no point for {k} discarded comparisons (fraction {fraction})")
        return float(self.fnmr[i])


def _count(fraction: float, n: int) -> int:
    return int(np.floor(float(fraction) * n + 0.5))


def _genuine(genuine: ArrayLike) -> FloatArray:
    g = np.asarray(genuine, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError("genuine must be a non-empty 1-D array of scores")
    if np.isnan(g).any() or np.isposinf(g).any():
        raise ValueError("genuine scores must be finite, or -inf for a failure to acquire")
    return g


def _counts(n: int, fractions: ArrayLike | None, max_fraction: float) -> npt.NDArray[np.int64]:
    if fractions is None:
        if not 0.0 <= max_fraction < 1.0:
            raise ValueError(f"max_fraction must lie in [0, 1), got {max_fraction!r}")
        # up to the first count at or beyond max_fraction, so that the area can end exactly there
        return np.arange(0, min(n - 1, math.ceil(max_fraction * n - 1e-9)) + 1, dtype=np.int64)
    f = np.asarray(fractions, dtype=np.float64).ravel()
    if f.size == 0 or np.isnan(f).any() or (f < 0).any() or (f >= 1).any():
        raise ValueError("fractions must be values in [0, 1)")
    ks = np.unique(np.floor(f * n + 0.5).astype(np.int64))
    return ks[ks < n]


def _curve(errors_in_order: npt.NDArray[np.bool_], ks: npt.NDArray[np.int64]) -> EdcCurve:
    """``errors_in_order``: the error flag of each comparison in discard order (first discarded first)."""
    n = errors_in_order.size
    errors_total = int(errors_in_order.sum())
    discarded_errors = np.concatenate([[0], np.cumsum(errors_in_order, dtype=np.int64)])
    fnmr = (errors_total - discarded_errors[ks]) / (n - ks)
    fractions = ks / n
    arrays = (ks.astype(np.int64), fractions.astype(np.float64), fnmr.astype(np.float64))
    for a in arrays:
        a.setflags(write=False)
    return EdcCurve(n, *arrays)


def edc_curve(
    quality: ArrayLike,
    genuine: ArrayLike,
    threshold: float,
    fractions: ArrayLike | None = None,
    *,
    max_fraction: float = 0.3,
    seed: int = 0,
) -> EdcCurve:
    """The EDC of ``quality`` (see the module docstring for every convention).

    ``fractions`` (each in [0, 1)) picks the points; by default every discard count from 0 to
    ``ceil(max_fraction * n)`` is computed. Raises ValueError on mismatched lengths, NaN quality or
    threshold, or bad scores.
    """
    g = _genuine(genuine)
    q = np.asarray(quality, dtype=np.float64)
    if q.shape != g.shape:
        raise ValueError(f"quality has shape {q.shape}, genuine {g.shape}: one quality per comparison is needed")
    if np.isnan(q).any() or np.isposinf(q).any():
        raise ValueError("quality must be finite, or -inf for no quality (failure to acquire)")
    t = float(threshold)
    if np.isnan(t):
        raise ValueError("threshold must not be NaN")
    tie_break = np.random.default_rng(seed).permutation(g.size)
    order = np.lexsort((tie_break, q))  # ascending quality, seeded random order among equal qualities
    errors = ~(np.isfinite(g) & (g >= t))
    return _curve(errors[order], _counts(g.size, fractions, max_fraction))


def random_discard_curve(
    genuine: ArrayLike, threshold: float, fractions: ArrayLike | None = None, *, max_fraction: float = 0.3
) -> EdcCurve:
    """The expected EDC of discarding at random: the FNMR at 0 discard at every point (exact)."""
    g = _genuine(genuine)
    ks = _counts(g.size, fractions, max_fraction)
    fnmr0 = float(np.mean(~(np.isfinite(g) & (g >= float(threshold)))))
    arrays = (ks.astype(np.int64), (ks / g.size).astype(np.float64), np.full(ks.size, fnmr0))
    for a in arrays:
        a.setflags(write=False)
    return EdcCurve(g.size, *arrays)


def oracle_curve(
    genuine: ArrayLike, threshold: float, fractions: ArrayLike | None = None, *, max_fraction: float = 0.3
) -> EdcCurve:
    """The EDC of a perfect quality that discards every false non-match first (the lower bound)."""
    g = _genuine(genuine)
    errors = ~(np.isfinite(g) & (g >= float(threshold)))
    return _curve(np.sort(errors)[::-1], _counts(g.size, fractions, max_fraction))


def edc_area(curve: EdcCurve, max_fraction: float = 0.3) -> float:
    """Trapezoidal area under ``curve`` for discard fractions from 0 to ``max_fraction``.

    The curve must start at 0 discard. When it holds a point beyond ``max_fraction``, the last segment
    is interpolated so that the area ends exactly at ``max_fraction``; otherwise it ends at the last point.
    """
    if curve.discarded.size == 0 or curve.discarded[0] != 0:
        raise ValueError("the EDC must include the point at 0 discard")
    keep = curve.fractions <= max_fraction
    x, y = curve.fractions[keep], curve.fnmr[keep]
    beyond = int(np.count_nonzero(keep))
    if beyond < curve.fractions.size and x[-1] < max_fraction:
        x0, x1, y0, y1 = x[-1], curve.fractions[beyond], y[-1], curve.fnmr[beyond]
        x = np.append(x, max_fraction)
        y = np.append(y, y0 + (y1 - y0) * (max_fraction - x0) / (x1 - x0))
    if x.size < 2:
        return 0.0
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def save_edc_plot(
    curves: Mapping[str, EdcCurve],
    path: Path | str,
    title: str,
    *,
    emphasise: Sequence[str] = (),
    dashed: Sequence[str] = (),
    max_fraction: float = 0.3,
) -> Path:
    """Write the EDC plot (FNMR against the discarded fraction, in percent) as PNG to ``path``.

    Curves named in ``emphasise`` are drawn thick, those in ``dashed`` dashed (baselines). Missing
    parent directories are created. Returns the path written. Raises ValueError when ``curves`` is empty.
    """
    if not curves:
        raise ValueError("no curves to plot: pass at least one name -> EdcCurve")
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    many = len(curves) > 8
    figure = Figure(figsize=(9.5 if many else 7.0, 5.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    palette = colormaps["tab20" if many else "tab10"]
    top = 0.0
    for i, (name, curve) in enumerate(curves.items()):
        keep = curve.fractions <= max_fraction + 1.0 / curve.n
        style = "--" if name in dashed else "-"
        width = 2.6 if name in emphasise else 1.2
        axes.plot(
            100.0 * curve.fractions[keep],
            100.0 * curve.fnmr[keep],
            style,
            linewidth=width,
            label=name,
            color=palette(i % palette.N),
        )
        if keep.any():
            top = max(top, float(curve.fnmr[keep].max()))
    axes.set_xlim(0.0, 100.0 * max_fraction)
    axes.set_ylim(0.0, 100.0 * top * 1.05 + 1e-9)
    axes.set_xlabel("probes discarded, lowest quality first (%)")
    axes.set_ylabel("FNMR at the fixed threshold (%)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if many:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    return out

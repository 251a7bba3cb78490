"""PNG plots of verification curves (DET and ROC), drawn with matplotlib's Agg backend.

matplotlib is imported inside the functions, so importing this module costs nothing. No pyplot
global state is used: each plot is its own :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from laneface.evaluation.metrics import RocCurve

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["save_det_plot", "save_roc_plot"]

_RATE_FLOOR = 1e-4  # lowest rate shown; zero rates are drawn on this edge of the log axes


def _new_axes(title: str) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 5.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    return figure, axes


def _save(figure: Figure, axes: Axes, path: Path | str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(out, format="png")
    return out


def _check(curves: Mapping[str, RocCurve]) -> None:
    if not curves:
        raise ValueError("no curves to plot: pass at least one name -> RocCurve")


def save_det_plot(curves: Mapping[str, RocCurve], path: Path | str, title: str) -> Path:
    """Write a DET plot (FNMR against FMR, both on log axes from 1e-4 to 1) as PNG to ``path``.

    Each entry of ``curves`` is drawn as one labelled line; rates of 0 are drawn at 1e-4.
    Missing parent directories are created. Returns the path written.

    Raises:
        ValueError: ``curves`` is empty.
    """
    _check(curves)
    figure, axes = _new_axes(title)
    for name, curve in curves.items():
        fmr = np.clip(curve.fmr, _RATE_FLOOR, 1.0)
        fnmr = np.clip(curve.fnmr, _RATE_FLOOR, 1.0)
        axes.plot(fmr, fnmr, label=name)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(_RATE_FLOOR, 1.0)
    axes.set_ylim(_RATE_FLOOR, 1.0)
    axes.set_xlabel("FMR (false match rate)")
    axes.set_ylabel("FNMR (false non-match rate)")
    return _save(figure, axes, path)


def save_roc_plot(curves: Mapping[str, RocCurve], path: Path | str, title: str) -> Path:
    """Write a ROC plot (TAR = 1 - FNMR against FMR on a log axis from 1e-4 to 1) as PNG to ``path``.

    Raises:
        ValueError: ``curves`` is empty.
    """
    _check(curves)
    figure, axes = _new_axes(title)
    for name, curve in curves.items():
        axes.plot(np.clip(curve.fmr, _RATE_FLOOR, 1.0), 1.0 - curve.fnmr, label=name)
    axes.set_xscale("log")
    axes.set_xlim(_RATE_FLOOR, 1.0)
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel("FMR (false match rate)")
    axes.set_ylabel("TAR (1 - FNMR)")
    return _save(figure, axes, path)

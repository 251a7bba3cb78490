"""Decision thresholds per model version, calibrated from impostor scores and stored as data.

A :class:`ThresholdSet` holds, for one model version:

* ``fmr``: the threshold at each false match rate of a grid (1, 2, 5 x 10^-k), computed from impostor
  (non-mated) comparison scores: the smallest threshold whose FMR on those scores is at most the grid
  value (see :func:`laneface.gallery.scores.threshold_at_fmr`; a match is ``score >= threshold``).
  Only grid values with ``fmr * comparisons >= 1`` are kept: a deeper FMR cannot be estimated;
* ``fpir`` (optional): thresholds at false positive identification rates measured in an open-set
  experiment, non-mated searches against a gallery of ``gallery_size`` entries (the score that counts is
  the best one of each search).

Asking for an FMR between grid values rounds **towards the stricter threshold** (the next smaller grid FMR),
so the FMR on the calibration scores never exceeds the target.

1:N at a gallery of N entries: a non-mated search is a false positive when *any* of its N comparisons
matches, so with independent comparisons ``FPIR = 1 - (1 - FMR)^N`` (about ``N * FMR`` for small
values): ``FMR = 1 - (1 - FPIR)^(1/N)``. :meth:`ThresholdSet.at_fpir` uses a measured open-set curve when
its gallery is at least as large as N (a larger gallery needs a higher threshold for the same FPIR, so
this is conservative), or at most 10% smaller (FPIR grows about linearly with N: at most 1.1 x the
target), and otherwise the FMR curve with that relationship.

Files: shipped defaults in ``laneface/data/thresholds.json`` (dlib-resnet and mobilefacenet, from LFW),
overridden per model version by ``<data dir>/thresholds.json``, which ``laneface calibrate`` writes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.errors import CalibrationRangeError, ConfigError, UncalibratedModelError
from laneface.gallery.scores import threshold_at_fmr

__all__ = [
    "FMR_GRID",
    "FpirCurve",
    "ImpostorTail",
    "ThresholdSet",
    "ThresholdTable",
    "duplicate_threshold",
    "fmr_for_fpir",
    "load_thresholds",
    "save_threshold_set",
    "shipped_thresholds_text",
]

FMR_GRID: tuple[float, ...] = tuple(
    float(f"{m}e-{k}") for k in range(1, 11) for m in (5, 2, 1) if not (k == 1 and m == 5)
)  # 0.2 ... 1e-10, descending
THRESHOLDS_FILE = "thresholds.json"
FPIR_GROWTH = 1.1  # a measured FPIR curve serves galleries up to 10% larger than the one it was measured on
FORMAT = 1


def fmr_for_fpir(fpir: float, gallery_size: int) -> float:
    """Per-comparison FMR giving ``fpir`` over ``gallery_size`` independent comparisons."""
    if not 0.0 < fpir < 1.0:
        raise ConfigError(f"target FPIR must lie in (0, 1), got {fpir}")
    n = max(1, int(gallery_size))
    return -math.expm1(math.log1p(-fpir) / n)


def _pick(points: Sequence[tuple[float, float]], rate: float) -> float | None:
    """Threshold of the largest grid rate <= ``rate`` (the stricter side); None if all are larger."""
    eligible = [(r, t) for r, t in points if r <= rate * (1 + 1e-9)]
    if not eligible:
        return None
    return max(eligible)[1]


@dataclass(frozen=True)
class FpirCurve:
    """Thresholds at FPIR values measured by ``searches`` non-mated searches in a gallery of ``gallery_size``."""

    gallery_size: int
    searches: int
    points: tuple[tuple[float, float], ...]  # (fpir, threshold)
    source: str = ""


@dataclass(frozen=True)
class ThresholdSet:
    """Calibrated thresholds of one model version (see the module docstring)."""

    model_version: str
    comparisons: int  # impostor comparisons behind ``fmr``
    fmr: tuple[tuple[float, float], ...]  # (fmr, threshold), fmr descending
    fpir: FpirCurve | None = None
    source: str = ""
    calibrated_at: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def min_fmr(self) -> float:
        return min((f for f, _ in self.fmr), default=1.0)

    def at_fmr(self, fmr: float) -> float:
        """Threshold for a target FMR (1:1, 1:few). Raises :class:`CalibrationRangeError` below the grid."""
        if not 0.0 < fmr < 1.0:
            raise ConfigError(f"target FMR must lie in (0, 1), got {fmr}")
        t = _pick(self.fmr, fmr)
        if t is None:
            raise CalibrationRangeError(
                f"FMR {fmr:.3g} is below what the {self.comparisons:,} impostor comparisons calibrating "
                f"{self.model_version!r} can estimate (down to {self.min_fmr:.3g}); calibrate with more impostor "
                "scores (`laneface calibrate --lfw-dir ...` or `--gallery`) or choose a higher target"
            )
        return t

    def at_fpir(self, fpir: float, gallery_size: int) -> float:
        """Threshold for a target FPIR in 1:N search of a gallery of ``gallery_size`` entries.

        A measured FPIR curve is used for galleries within ``FPIR_GROWTH`` (10%) of the size it was measured
        on. Other sizes use the FMR curve through ``FMR = 1 - (1 - FPIR)^(1/N)``; a smaller gallery whose FMR
        is below the calibrated range falls back to the measured curve, which is stricter than needed
        there (FPIR grows with the gallery), and a larger one raises :class:`CalibrationRangeError`.
        """
        measured = self.fpir
        if measured is not None and measured.gallery_size / FPIR_GROWTH <= gallery_size <= (
            FPIR_GROWTH * measured.gallery_size
        ):
            t = _pick(measured.points, fpir)
            if t is not None:
                return t
        fmr = fmr_for_fpir(fpir, gallery_size)
        t = _pick(self.fmr, fmr)
        if t is not None:
            return t
        if measured is not None and gallery_size < measured.gallery_size:
            t = _pick(measured.points, fpir)
            if t is not None:
                return t
        raise CalibrationRangeError(
            f"1:N at FPIR {fpir:g} in a gallery of {gallery_size:,} needs FMR {fmr:.3g} per comparison, below "
            f"the calibration of {self.model_version!r} (down to {self.min_fmr:.3g}); run `laneface calibrate "
            "--gallery` for an open-set measurement on the gallery itself"
        )

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "calibrated_at": self.calibrated_at,
            "impostor_comparisons": self.comparisons,
            "fmr": [[f, t] for f, t in self.fmr],
        }
        if self.fpir is not None:
            out["fpir"] = {
                "gallery_size": self.fpir.gallery_size,
                "searches": self.fpir.searches,
                "points": [[f, t] for f, t in self.fpir.points],
                "source": self.fpir.source,
            }
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_json(cls, model_version: str, obj: Mapping[str, Any]) -> ThresholdSet:
        try:
            fp = obj.get("fpir")
            fpir = (
                FpirCurve(
                    int(fp["gallery_size"]),
                    int(fp["searches"]),
                    tuple((float(a), float(b)) for a, b in fp["points"]),
                    str(fp.get("source", "")),
                )
                if fp
                else None
            )
            return cls(
                model_version=model_version,
                comparisons=int(obj["impostor_comparisons"]),
                fmr=tuple(sorted(((float(a), float(b)) for a, b in obj["fmr"]), reverse=True)),
                fpir=fpir,
                source=str(obj.get("source", "")),
                calibrated_at=str(obj.get("calibrated_at", "")),
                extra=dict(obj.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"thresholds of {model_version!r} are malformed: {exc}") from None


@dataclass(frozen=True)
class ThresholdTable:
    """Threshold sets keyed by model version."""

    sets: Mapping[str, ThresholdSet]

    def get(self, model_version: str) -> ThresholdSet:
        found = self.sets.get(model_version)
        if found is None:
            known = ", ".join(sorted(self.sets)) or "none"
            raise UncalibratedModelError(
                f"no thresholds for model version {model_version!r} (calibrated: {known}); run `laneface calibrate` "
                "for it (from LFW with --lfw-dir, or from an enrolled gallery with --gallery)"
            )
        return found

    def with_set(self, ts: ThresholdSet) -> ThresholdTable:
        return ThresholdTable({**self.sets, ts.model_version: ts})

    def to_json(self) -> str:
        return json.dumps(
            {"format": FORMAT, "models": {k: v.as_json() for k, v in sorted(self.sets.items())}}, indent=2
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> ThresholdTable:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from None
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("models"), dict):
            raise ConfigError(f"{source} is not a laneface thresholds file (format {FORMAT})")
        return cls({mv: ThresholdSet.from_json(mv, v) for mv, v in obj["models"].items()})

    def save(self, path: Path) -> None:
        """Write atomically (temporary file + rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        os.replace(tmp, path)


def save_threshold_set(ts: ThresholdSet, path: Path) -> Path:
    """Add or replace ``ts``'s model version in the thresholds file ``path`` (other versions are kept)."""
    table = (
        ThresholdTable.from_json(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else ThresholdTable({})
    )
    table.with_set(ts).save(path)
    return path


def shipped_thresholds_text() -> str:
    from importlib.resources import files

    return files("laneface").joinpath("data", THRESHOLDS_FILE).read_text(encoding="utf-8")


def load_thresholds(data_dir: Path | None) -> ThresholdTable:
    """Shipped thresholds, overridden per model version by ``<data_dir>/thresholds.json``."""
    try:
        table = ThresholdTable.from_json(shipped_thresholds_text(), "shipped thresholds.json")
    except FileNotFoundError:
        table = ThresholdTable({})
    if data_dir is not None:
        user = data_dir / THRESHOLDS_FILE
        if user.is_file():
            for ts in ThresholdTable.from_json(user.read_text(encoding="utf-8"), str(user)).sets.values():
                table = table.with_set(ts)
    return table


class ImpostorTail:
    """Streams impostor scores (any number) and answers thresholds at FMR values.

    The highest ``keep`` scores are kept exactly; the rest only in a histogram of ``bins`` bins over
    [-1, 1]. A threshold whose allowed false matches ``floor(fmr * n)`` fall within the exact part is
    exact (:func:`~laneface.gallery.scores.threshold_at_fmr`'s rule); otherwise it is the lower edge
    of the histogram bin where the count above first fits, which is never below the exact answer and at
    most one bin width (2/bins) above it.
    """

    def __init__(self, keep: int = 200_000, bins: int = 1 << 16) -> None:
        self.keep = int(keep)
        self.n = 0
        self._edges = np.linspace(-1.0, 1.0, bins + 1)
        self._hist = np.zeros(bins, np.int64)
        self._top = np.zeros((0,), np.float32)
        self._buffer: list[npt.NDArray[np.float32]] = []
        self._buffered = 0

    def add(self, scores: npt.ArrayLike) -> None:
        s = np.asarray(scores, np.float32).ravel()
        if s.size == 0:
            return
        if not np.isfinite(s).all():
            raise ValueError("impostor scores must be finite")
        self.n += int(s.size)
        self._hist += np.histogram(np.clip(s, -1.0, 1.0), bins=self._edges)[0]
        if s.size > self.keep:
            s = s[np.argpartition(-s, self.keep - 1)[: self.keep]]
        self._buffer.append(s)
        self._buffered += int(s.size)
        if self._buffered > 4 * self.keep:
            self._fold()

    def _fold(self) -> None:
        allv = np.concatenate([self._top, *self._buffer])
        if allv.size > self.keep:
            allv = allv[np.argpartition(-allv, self.keep - 1)[: self.keep]]
        self._top = np.sort(allv)[::-1].copy()  # descending
        self._buffer = []
        self._buffered = 0

    def threshold_at(self, fmr: float) -> float:
        self._fold()
        if self.n == 0:
            raise ValueError("no impostor scores")
        allowed = math.floor(fmr * self.n + 1e-9)
        if allowed < self._top.size:
            return float(np.nextafter(self._top[allowed], np.float32(np.inf)))
        above = np.cumsum(self._hist[::-1])  # above[j]: scores in the top j+1 bins
        j = int(np.searchsorted(above, allowed, side="right"))  # bins fully allowed
        return float(self._edges[len(self._hist) - j])

    def fmr_points(self, grid: Sequence[float] = FMR_GRID) -> tuple[tuple[float, float], ...]:
        return tuple((f, self.threshold_at(f)) for f in grid if f * self.n >= 1.0)

    def top(self) -> npt.NDArray[np.float32]:
        """The highest scores kept exactly (at most ``keep``), highest first."""
        self._fold()
        return self._top.copy()


def fpir_points(best_nonmated: npt.ArrayLike, grid: Sequence[float] = FMR_GRID) -> tuple[tuple[float, float], ...]:
    """Thresholds at FPIR grid values from the best score of each non-mated search (``-inf`` = no
    candidate; such a search is never a false positive)."""
    s = np.asarray(best_nonmated, np.float64)
    return tuple((f, float(threshold_at_fmr(s, f))) for f in grid if f * s.size >= 1.0)


def duplicate_threshold(data_dir: Path | None, model_version: str, fmr: float) -> tuple[float | None, str]:
    """Threshold of the enrolment duplicate check at ``fmr`` for ``model_version`` (calibrated in
    ``data_dir`` or shipped), or ``None`` and the reason there is none (not calibrated, FMR out of range)."""
    try:
        return load_thresholds(data_dir).get(model_version).at_fmr(fmr), ""
    except (UncalibratedModelError, CalibrationRangeError) as exc:
        return None, str(exc)

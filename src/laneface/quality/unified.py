"""The unified quality score (0-100): the predicted probability that a face matches its reference.

``unified = 100 * P(genuine score >= threshold | quality measures)``, from a small additive logistic model
(a "GAM-lite") over the raw values of the quality measures:

1. each :class:`FeatureSpec` turns one measure's raw value into a number (``identity``, ``abs`` = distance
   from ``center`` for two-sided measures such as yaw, or ``log``); a measure that failed to assess gives a
   missing value, replaced by the training median, and sets that feature's missing indicator;
2. the value is clipped to the range seen in training, standardised (``z = (x - mean) / scale``) and
   expanded into a piecewise-linear basis: ``z`` plus hinges ``max(0, z - knot)`` at training quantiles;
3. ``p = sigmoid(intercept + basis . coef)``.

The model is fitted (:func:`fit_unified_model`) by L2-regularised logistic regression (Newton's method;
the penalty is picked by cross-validation over identity-disjoint groups) on genuine comparisons of
degraded LFW probes against clean references: ``laneface bench quality`` does it, and writes the fitted
parameters as JSON. The shipped parameters (``laneface/data/quality_unified.json``) name the detector,
recognizer, threshold and data they were fitted with; the score ranks faces for any recognizer, but its
probability is calibrated only for that one. Everything here is numpy; nothing is loaded at import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from laneface.errors import ConfigError
from laneface.quality.base import MeasureResult

__all__ = [
    "DEFAULT_FEATURES",
    "FORMAT",
    "SHIPPED_MODEL_FILE",
    "FeatureSpec",
    "FitReport",
    "UnifiedQualityModel",
    "fit_logistic",
    "fit_unified_model",
    "load_unified_model",
]

FORMAT = "laneface-unified-quality/1"
SHIPPED_MODEL_FILE = "quality_unified.json"
FloatArray = npt.NDArray[np.float64]
Transform = Literal["identity", "abs", "log"]
_TRANSFORMS = ("identity", "abs", "log")
_LOG_FLOOR = 1e-3


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: measure ``measure``'s raw value through ``transform`` (``abs``: ``|raw - center|``)."""

    name: str
    measure: str
    transform: Transform = "identity"
    center: float = 0.0

    def __post_init__(self) -> None:
        if self.transform not in _TRANSFORMS:
            raise ValueError(f"feature {self.name!r}: transform must be one of {_TRANSFORMS}, got {self.transform!r}")
        if not math.isfinite(self.center):
            raise ValueError(f"feature {self.name!r}: center must be finite")

    def value(self, result: MeasureResult | None) -> float:
        """The feature value, or NaN when the measure is absent or failed to assess."""
        if result is None or result.status != "ok" or result.raw is None or not math.isfinite(result.raw):
            return math.nan
        x = float(result.raw)
        if self.transform == "abs":
            return abs(x - self.center)
        if self.transform == "log":
            return math.log(max(x, _LOG_FLOOR))
        return x


#: The features of the shipped model: every built-in measure, pose and exposure folded to distances.
DEFAULT_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("log_inter_eye_distance", "inter_eye_distance", "log"),
    FeatureSpec("log_face_size", "face_size", "log"),
    FeatureSpec("abs_yaw", "yaw", "abs"),
    FeatureSpec("abs_pitch", "pitch", "abs"),
    FeatureSpec("abs_roll", "roll", "abs"),
    FeatureSpec("sharpness", "sharpness"),
    FeatureSpec("exposure_deviation", "exposure", "abs", 0.5),
    FeatureSpec("under_exposure", "under_exposure"),
    FeatureSpec("over_exposure", "over_exposure"),
    FeatureSpec("dynamic_range", "dynamic_range"),
    FeatureSpec("illumination_uniformity", "illumination_uniformity"),
    FeatureSpec("eyes_visible", "eyes_visible"),
    FeatureSpec("lower_face_occlusion", "lower_face_occlusion"),
    FeatureSpec("log_blockiness", "blockiness", "log"),
    FeatureSpec("detection_confidence", "detection_confidence"),
)


def _sigmoid(t: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * t)), dtype=np.float64)


def _frozen(a: npt.ArrayLike, name: str, size: int | None = None) -> FloatArray:
    arr = np.array(a, dtype=np.float64, copy=True)
    if arr.ndim != 1 or (size is not None and arr.size != size):
        raise ValueError(f"{name} must be a 1-D array" + ("" if size is None else f" of {size} values"))
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class UnifiedQualityModel:
    """Fitted parameters (see the module docstring); build with :func:`fit_unified_model` or :meth:`load`."""

    features: tuple[FeatureSpec, ...]
    fill: FloatArray  # (F,) training medians, used for missing values
    lower: FloatArray  # (F,) clip range: the training minimum ...
    upper: FloatArray  # (F,) ... and maximum
    mean: FloatArray  # (F,)
    scale: FloatArray  # (F,) > 0
    knots: tuple[tuple[float, ...], ...]  # per feature, in standardised units
    coef: FloatArray  # (basis_size,)
    intercept: float
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f = len(self.features)
        if f == 0:
            raise ValueError("a unified model needs at least one feature")
        names = [s.name for s in self.features]
        if len(set(names)) != f:
            raise ValueError("feature names must be unique")
        for attr in ("fill", "lower", "upper", "mean", "scale"):
            object.__setattr__(self, attr, _frozen(getattr(self, attr), attr, f))
        if (self.scale <= 0).any() or (self.lower > self.upper).any():
            raise ValueError("scales must be positive and lower <= upper")
        if len(self.knots) != f:
            raise ValueError(f"knots must hold one tuple per feature ({f})")
        knots = tuple(tuple(float(k) for k in ks) for ks in self.knots)
        if not all(math.isfinite(k) for ks in knots for k in ks):
            raise ValueError("knots must be finite")
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "coef", _frozen(self.coef, "coef", self.basis_size))
        if not math.isfinite(self.intercept):
            raise ValueError("intercept must be finite")
        object.__setattr__(self, "intercept", float(self.intercept))
        object.__setattr__(self, "metadata", dict(self.metadata))

    @property
    def basis_size(self) -> int:
        """Columns of the design: per feature, z, its hinges and a missing indicator."""
        return sum(len(ks) + 2 for ks in self.knots)

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures the model reads, in feature order, without repeats."""
        return tuple(dict.fromkeys(s.measure for s in self.features))

    @property
    def version(self) -> str:
        return str(self.metadata.get("model_version", "unfitted"))

    def feature_matrix(self, reports: Sequence[Mapping[str, MeasureResult]]) -> FloatArray:
        """Feature values (NaN = missing), one row per face's measure results."""
        out = np.full((len(reports), len(self.features)), np.nan)
        for i, results in enumerate(reports):
            out[i] = [s.value(results.get(s.measure)) for s in self.features]
        return out

    def design(self, x: npt.ArrayLike) -> FloatArray:
        """The basis (N, basis_size) of feature values ``x`` (N, F); NaN marks a missing value."""
        xs = np.asarray(x, dtype=np.float64)
        if xs.ndim != 2 or xs.shape[1] != len(self.features):
            raise ValueError(f"feature values must have shape (N, {len(self.features)}), got {xs.shape}")
        return _design(xs, self.fill, self.lower, self.upper, self.mean, self.scale, self.knots)

    def probability(self, x: npt.ArrayLike) -> FloatArray:
        """P(match) for each row of feature values ``x`` (N, F)."""
        return _sigmoid(self.intercept + self.design(x) @ self.coef)

    def unified(self, results: Mapping[str, MeasureResult]) -> float | None:
        """The unified score 0-100 of one face (unrounded); ``None`` when no feature could be assessed."""
        x = self.feature_matrix([results])
        if np.isnan(x).all():
            return None
        return float(100.0 * self.probability(x)[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (``format`` = :data:`FORMAT`)."""
        return {
            "format": FORMAT,
            **{k: v for k, v in self.metadata.items() if k != "format"},
            "features": [
                {
                    "name": s.name,
                    "measure": s.measure,
                    "transform": s.transform,
                    "center": s.center,
                    "fill": float(self.fill[j]),
                    "lower": float(self.lower[j]),
                    "upper": float(self.upper[j]),
                    "mean": float(self.mean[j]),
                    "scale": float(self.scale[j]),
                    "knots": list(self.knots[j]),
                }
                for j, s in enumerate(self.features)
            ],
            "basis": "per feature: z, max(0, z - knot) for each knot, missing indicator",
            "intercept": self.intercept,
            "coef": [float(c) for c in self.coef],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> UnifiedQualityModel:
        """Parameters written by :meth:`to_dict`; ConfigError naming ``source`` when malformed."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ConfigError(f"{source}: not a unified quality model (format must be {FORMAT!r})")
        try:
            feats = data["features"]
            specs = tuple(
                FeatureSpec(str(f["name"]), str(f["measure"]), f["transform"], float(f.get("center", 0.0)))
                for f in feats
            )
            col = {k: [float(f[k]) for f in feats] for k in ("fill", "lower", "upper", "mean", "scale")}
            knots = tuple(tuple(float(k) for k in f["knots"]) for f in feats)
            metadata = {k: v for k, v in data.items() if k not in {"features", "basis", "intercept", "coef"}}
            return cls(
                specs,
                np.array(col["fill"]),
                np.array(col["lower"]),
                np.array(col["upper"]),
                np.array(col["mean"]),
                np.array(col["scale"]),
                knots,
                np.asarray(data["coef"], dtype=np.float64),
                float(data["intercept"]),
                metadata,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed unified quality model: {exc!r}") from None

    def save(self, path: Path | str) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: Path | str) -> UnifiedQualityModel:
        """Read a model file written by :meth:`save` (ConfigError when unreadable or malformed)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read unified quality model {path}: {exc}") from None
        return cls.from_dict(data, str(path))


def load_unified_model(path: Path | str | None = None) -> UnifiedQualityModel:
    """The model in ``path``, or the shipped one (``laneface/data/quality_unified.json``) when ``None``."""
    if path is not None:
        return UnifiedQualityModel.load(path)
    from importlib.resources import files

    source = f"<shipped {SHIPPED_MODEL_FILE}>"
    try:
        data = json.loads(files("laneface").joinpath("data", SHIPPED_MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    return UnifiedQualityModel.from_dict(data, source)


def _design(
    x: FloatArray,
    fill: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    mean: FloatArray,
    scale: FloatArray,
    knots: Sequence[Sequence[float]],
) -> FloatArray:
    missing = np.isnan(x)
    filled = np.where(missing, fill, x)
    z = (np.clip(filled, lower, upper) - mean) / scale
    columns: list[FloatArray] = []
    for j, ks in enumerate(knots):
        columns.append(z[:, j])
        columns.extend(np.maximum(0.0, z[:, j] - k) for k in ks)
        columns.append(missing[:, j].astype(np.float64))
    return np.stack(columns, axis=1) if columns else np.zeros((x.shape[0], 0))


def fit_logistic(
    design: npt.ArrayLike,
    labels: npt.ArrayLike,
    l2: float,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[FloatArray, float]:
    """L2-regularised logistic regression by Newton's method: ``(coef, intercept)``.

    Minimises ``mean(log-loss) + l2 / 2 * |coef|^2`` (the intercept is not penalised). With ``l2 > 0`` the
    problem is strictly convex and the result unique; steps are halved until the objective decreases.
    """
    b = np.asarray(design, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if b.ndim != 2 or y.shape != (b.shape[0],) or b.shape[0] == 0:
        raise ValueError("design must be (N, D) and labels (N,), N > 0")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0/1 (or booleans)")
    if not (math.isfinite(l2) and l2 > 0):
        raise ValueError("l2 must be a positive number")
    n, d = b.shape
    a = np.hstack([np.ones((n, 1)), b])
    penalty = np.full(d + 1, l2)
    penalty[0] = 0.0
    prior = min(max(float(y.mean()), 1e-6), 1 - 1e-6)
    w = np.zeros(d + 1)
    w[0] = math.log(prior / (1 - prior))

    def objective(v: FloatArray) -> float:
        t = a @ v
        return float(np.mean(np.logaddexp(0.0, t) - y * t) + 0.5 * np.sum(penalty * v * v))

    current = objective(w)
    for _ in range(max_iter):
        p = _sigmoid(a @ w)
        grad = a.T @ (p - y) / n + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a / n + np.diag(penalty) + 1e-12 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-8:
            candidate = w - t * step
            value = objective(candidate)
            if value <= current + 1e-15:
                break
            t /= 2
        else:
            break
        w, previous, current = candidate, current, value
        if previous - current < tol * max(1.0, abs(current)):
            break
    return w[1:].copy(), float(w[0])


@dataclass(frozen=True)
class FitReport:
    """How a model was fitted: the penalty chosen and the held-out log-loss of each candidate."""

    l2: float
    cv_log_loss: dict[float, float]
    samples: int
    positives: int
    groups: int


def _log_loss(p: FloatArray, y: FloatArray) -> float:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def fit_unified_model(
    x: npt.ArrayLike,
    labels: npt.ArrayLike,
    features: Sequence[FeatureSpec] = DEFAULT_FEATURES,
    *,
    groups: npt.ArrayLike | None = None,
    l2_grid: Sequence[float] = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    knot_quantiles: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
    metadata: Mapping[str, Any] | None = None,
) -> tuple[UnifiedQualityModel, FitReport]:
    """Fit the model on feature values ``x`` (N, F; NaN = missing) and match labels (True = matched).

    Medians, clip ranges, standardisation and knots come from ``x``. The L2 penalty is the one of
    ``l2_grid`` with the lowest mean held-out log-loss over leave-one-group-out folds of ``groups`` (e.g.
    LFW folds, which are identity-disjoint); without groups (or with one) the smallest value is used.
    """
    xs = np.asarray(x, dtype=np.float64)
    y = np.asarray(labels).astype(np.float64)
    specs = tuple(features)
    if xs.ndim != 2 or xs.shape[1] != len(specs) or y.shape != (xs.shape[0],):
        raise ValueError(f"x must be (N, {len(specs)}) and labels (N,)")
    if xs.shape[0] < 2 or y.min() == y.max():
        raise ValueError("fitting needs at least one matched and one non-matched sample")
    if not l2_grid:
        raise ValueError("l2_grid must not be empty")
    fill = np.array([np.nanmedian(c) if np.isfinite(c).any() else 0.0 for c in xs.T])
    filled = np.where(np.isnan(xs), fill, xs)
    lower, upper = filled.min(axis=0), filled.max(axis=0)
    mean = filled.mean(axis=0)
    std = filled.std(axis=0)
    scale = np.where(std > 1e-12, std, 1.0)
    z = (filled - mean) / scale
    knots = tuple(
        tuple(sorted({round(float(k), 6) for k in np.quantile(z[:, j], knot_quantiles)} - {float(z[:, j].max())}))
        for j in range(len(specs))
    )
    design = _design(xs, fill, lower, upper, mean, scale, knots)
    g = None if groups is None else np.asarray(groups)
    cv: dict[float, float] = {}
    ids = np.unique(g) if g is not None else np.array([0])
    if g is not None and ids.size >= 2:
        for lam in l2_grid:
            losses = []
            for gid in ids:
                test = g == gid
                if y[~test].min() == y[~test].max():
                    continue
                coef, icpt = fit_logistic(design[~test], y[~test], lam)
                losses.append(_log_loss(_sigmoid(icpt + design[test] @ coef), y[test]) * test.sum())
            cv[float(lam)] = float(sum(losses) / y.size)
        best = min(cv, key=lambda k: (cv[k], -k))
    else:
        best = float(min(l2_grid))
    coef, icpt = fit_logistic(design, y, best)
    meta = dict(metadata or {})
    meta.setdefault("l2", best)
    model = UnifiedQualityModel(specs, fill, lower, upper, mean, scale, knots, coef, icpt, meta)
    report = FitReport(best, cv, int(y.size), int(y.sum()), int(ids.size))
    return model, report

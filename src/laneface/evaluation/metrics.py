"""Verification metrics in the vocabulary of ISO/IEC 19795-1.

Conventions used by every function here:

* A higher score means more similar.
* A comparison is a **match** when ``score >= threshold``. A comparison is a non-match when
  ``score < threshold``.
* A score of ``-inf`` marks a failure to acquire (FTA): it never matches, at any threshold,
  including ``threshold = -inf``. All other scores must be finite (``nan`` and ``+inf`` are refused).
* FMR (false match rate) is the share of impostor (non-mated) scores that match:
  ``mean(impostor >= threshold)``. FNMR (false non-match rate) is the share of genuine (mated)
  scores that do not match: ``mean(genuine < threshold)``. Failures to acquire stay in the
  denominators, so a genuine ``-inf`` always counts as a false non-match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from laneface.gallery.scores import as_scores, sorted_finite, threshold_at_fmr

__all__ = [
    "KFoldResult",
    "RocCurve",
    "eer",
    "fmr_fnmr",
    "fnmr_at_fmr",
    "kfold_accuracy",
    "roc_curve",
    "tar_at_far",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RocCurve:
    """FMR and FNMR at every distinct threshold, thresholds ascending (arrays are read-only).

    ``fmr[i]`` and ``fnmr[i]`` are exactly what :func:`fmr_fnmr` returns for ``thresholds[i]``
    (a match is ``score >= thresholds[i]``). The thresholds are the distinct finite scores of both
    sets followed by ``+inf`` (where nothing matches: FMR 0, FNMR 1). A threshold at or below the
    lowest finite score gives the same rates as the first entry, so the curve covers every
    operating point. FMR is non-increasing and FNMR non-decreasing along the arrays.
    """

    thresholds: FloatArray
    fmr: FloatArray
    fnmr: FloatArray


@dataclass(frozen=True, eq=False)
class KFoldResult:
    """Outcome of :func:`kfold_accuracy`, one entry per fold in ascending fold-id order.

    ``std`` is the population standard deviation (``ddof=0``) of the fold accuracies.
    """

    fold_ids: NDArray[np.int64]
    accuracies: FloatArray
    thresholds: FloatArray
    mean: float
    std: float


def _threshold(value: float, name: str = "threshold") -> float:
    t = float(value)
    if math.isnan(t):
        raise ValueError(f"{name} must not be NaN")
    return t


def _count_matches(sorted_finite: FloatArray, thresholds: FloatArray) -> NDArray[np.int64]:
    """Number of scores ``>= t`` for each ``t`` (``-inf`` scores were removed beforehand)."""
    left = np.searchsorted(sorted_finite, thresholds, side="left")
    return (sorted_finite.size - left).astype(np.int64)


def fmr_fnmr(genuine: ArrayLike, impostor: ArrayLike, threshold: float) -> tuple[float, float]:
    """Return ``(FMR, FNMR)`` at ``threshold``.

    FMR is the share of impostor scores with ``score >= threshold``; FNMR is the share of genuine
    scores with ``score < threshold``. ``-inf`` scores (failures to acquire) never match.

    Raises:
        ValueError: an empty score array, a NaN or +inf score, or a NaN threshold.
    """
    gen = as_scores(genuine, "genuine")
    imp = as_scores(impostor, "impostor")
    t = _threshold(threshold)
    fmr = np.count_nonzero((imp >= t) & np.isfinite(imp)) / imp.size
    fnmr = 1.0 - np.count_nonzero((gen >= t) & np.isfinite(gen)) / gen.size
    return float(fmr), float(fnmr)


def roc_curve(genuine: ArrayLike, impostor: ArrayLike) -> RocCurve:
    """Return FMR and FNMR at every distinct threshold, in O(n log n).

    See :class:`RocCurve` for the choice of thresholds; ties are handled exactly by the rule
    "a match is ``score >= threshold``": all scores equal to a threshold match at that threshold.

    Raises:
        ValueError: an empty score array, or a NaN or +inf score.
    """
    gen_all = as_scores(genuine, "genuine")
    imp_all = as_scores(impostor, "impostor")
    gen = sorted_finite(gen_all)
    imp = sorted_finite(imp_all)
    thresholds = np.append(np.unique(np.concatenate([gen, imp])), np.inf)
    fmr = _count_matches(imp, thresholds) / imp_all.size
    fnmr = 1.0 - _count_matches(gen, thresholds) / gen_all.size
    for arr in (thresholds, fmr, fnmr):
        arr.setflags(write=False)
    return RocCurve(thresholds=thresholds, fmr=fmr, fnmr=fnmr)


def fnmr_at_fmr(genuine: ArrayLike, impostor: ArrayLike, target_fmr: float) -> tuple[float, float]:
    """Return ``(FNMR, threshold)`` at the threshold chosen by :func:`threshold_at_fmr`."""
    threshold = threshold_at_fmr(impostor, target_fmr)
    _, fnmr = fmr_fnmr(genuine, impostor, threshold)
    return fnmr, threshold


def tar_at_far(genuine: ArrayLike, impostor: ArrayLike, far: float) -> tuple[float, float]:
    """Return ``(TAR, threshold)`` with ``TAR = 1 - FNMR`` at :func:`threshold_at_fmr` ``(impostor, far)``."""
    fnmr, threshold = fnmr_at_fmr(genuine, impostor, far)
    return 1.0 - fnmr, threshold


def eer(genuine: ArrayLike, impostor: ArrayLike) -> tuple[float, float]:
    """Return ``(EER, threshold)``: the equal error rate and where it is reached.

    Among the thresholds of :func:`roc_curve`, the one where ``|FMR - FNMR|`` is smallest is
    chosen (the lowest such threshold on ties); as FMR - FNMR is non-increasing, this is the
    point closest to where the two curves cross. The EER reported is the mean ``(FMR + FNMR) / 2``
    at that threshold, without interpolation, so ``fmr_fnmr(genuine, impostor, threshold)``
    reproduces it. Perfectly separated sets give ``EER = 0`` at the lowest genuine score.

    Raises:
        ValueError: an empty score array, or a NaN or +inf score.
    """
    curve = roc_curve(genuine, impostor)
    i = int(np.argmin(np.abs(curve.fmr - curve.fnmr)))
    return float((curve.fmr[i] + curve.fnmr[i]) / 2.0), float(curve.thresholds[i])


def _candidate_thresholds(scores: FloatArray) -> FloatArray:
    distinct = np.unique(scores[np.isfinite(scores)])
    mids = distinct[:-1] / 2.0 + distinct[1:] / 2.0
    return np.concatenate([[-np.inf], mids, [np.inf]])


def _correct_counts(scores: FloatArray, labels: NDArray[np.bool_], thresholds: FloatArray) -> NDArray[np.int64]:
    """Correct decisions for each threshold: mated pairs that match plus non-mated ones that do not."""
    mated = sorted_finite(scores[labels])
    non_mated = sorted_finite(scores[~labels])
    n_non_mated = int(np.count_nonzero(~labels))
    return _count_matches(mated, thresholds) + (n_non_mated - _count_matches(non_mated, thresholds))


def _bool_array(values: ArrayLike, name: str, size: int) -> NDArray[np.bool_]:
    arr = np.asarray(values)
    if arr.dtype != np.bool_:
        raise ValueError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},) like scores, got {arr.shape}")
    return arr


def kfold_accuracy(
    scores: ArrayLike,
    labels: ArrayLike,
    folds: ArrayLike,
    forced_errors: ArrayLike | None = None,
) -> KFoldResult:
    """Return k-fold verification accuracy following the LFW View-2 protocol.

    ``labels[i]`` is True for a mated pair; ``folds[i]`` is the integer fold id of pair ``i``. For
    each fold, the threshold is fitted on the *other* folds: the candidates are ``-inf``, the
    midpoints between consecutive distinct finite training scores, and ``+inf``, and the one
    with the most correct training decisions is kept (the lowest on ties). Accuracy is then
    measured on the held-out fold. A decision is correct when a mated pair matches
    (``score >= threshold``) or a non-mated pair does not.

    ``forced_errors[i] = True`` (failure to acquire) makes pair ``i`` count as wrong whatever its
    label and the threshold, in training and testing; it stays in the denominator.

    Raises:
        ValueError: empty input, NaN or +inf scores, non-boolean labels or forced_errors,
            non-integer fold ids, mismatched lengths, or fewer than two folds.
    """
    s = as_scores(scores, "scores")
    lab = _bool_array(labels, "labels", s.size)
    fold_arr = np.asarray(folds)
    if not np.issubdtype(fold_arr.dtype, np.integer):
        raise ValueError(f"folds must be an integer array of fold ids, got dtype {fold_arr.dtype}")
    if fold_arr.shape != s.shape:
        raise ValueError(f"folds must have shape {s.shape} like scores, got {fold_arr.shape}")
    forced = (
        np.zeros(s.size, dtype=np.bool_)
        if forced_errors is None
        else _bool_array(forced_errors, "forced_errors", s.size)
    )
    fold_ids = np.unique(fold_arr).astype(np.int64)
    if fold_ids.size < 2:
        raise ValueError(f"k-fold accuracy needs at least two folds, got {fold_ids.size}")

    accuracies = np.empty(fold_ids.size, dtype=np.float64)
    thresholds = np.empty(fold_ids.size, dtype=np.float64)
    for k, fold in enumerate(fold_ids):
        test = fold_arr == fold
        train = ~test & ~forced
        candidates = _candidate_thresholds(s[train])
        correct = _correct_counts(s[train], lab[train], candidates)
        best = float(candidates[int(np.argmax(correct))])
        usable = test & ~forced
        right = _correct_counts(s[usable], lab[usable], np.array([best]))[0]
        accuracies[k] = right / np.count_nonzero(test)
        thresholds[k] = best
    for arr in (fold_ids, accuracies, thresholds):
        arr.setflags(write=False)
    return KFoldResult(
        fold_ids=fold_ids,
        accuracies=accuracies,
        thresholds=thresholds,
        mean=float(accuracies.mean()),
        std=float(accuracies.std()),
    )

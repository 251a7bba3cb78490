"""Tests of laneface.evaluation.metrics (and the PNG plots drawn from its curves)."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.evaluation.metrics import (
    RocCurve,
    eer,
    fmr_fnmr,
    fnmr_at_fmr,
    kfold_accuracy,
    roc_curve,
    tar_at_far,
)
from laneface.evaluation.plots import save_det_plot, save_roc_plot
from laneface.gallery.scores import threshold_at_fmr

NEG_INF = -math.inf
GENUINE = [0.9, 0.8, 0.5, NEG_INF]
IMPOSTOR = [0.1, 0.5, 0.2, 0.6, NEG_INF]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- fmr_fnmr -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.5, (0.4, 0.25)),  # ties at the threshold match: impostor 0.5 is a false match, genuine 0.5 a match
        (0.6, (0.2, 0.5)),
        (0.55, (0.2, 0.5)),
        (NEG_INF, (0.8, 0.25)),  # -inf scores (failures to acquire) never match, not even at -inf
        (math.inf, (0.0, 1.0)),
        (0.0, (0.8, 0.25)),
    ],
)
def test_fmr_fnmr_hand_computed(threshold: float, expected: tuple[float, float]) -> None:
    assert fmr_fnmr(GENUINE, IMPOSTOR, threshold) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("genuine", "impostor", "threshold", "message"),
    [
        ([], [0.1], 0.0, "genuine is empty"),
        ([0.1], [], 0.0, "impostor is empty"),
        ([math.nan], [0.1], 0.0, "NaN"),
        ([0.1], [0.2, math.nan], 0.0, "NaN"),
        ([0.1], [math.inf], 0.0, r"\+inf"),
        ([0.1], [0.2], math.nan, "threshold"),
        ([[0.1]], [0.2], 0.0, "1-D"),
    ],
)
def test_fmr_fnmr_rejects_bad_input(
    genuine: list[float], impostor: list[float], threshold: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fmr_fnmr(genuine, impostor, threshold)


# --- roc_curve ------------------------------------------------------------------------------------


def test_roc_curve_hand_computed() -> None:
    curve = roc_curve(GENUINE, IMPOSTOR)
    np.testing.assert_array_equal(curve.thresholds, [0.1, 0.2, 0.5, 0.6, 0.8, 0.9, math.inf])
    np.testing.assert_allclose(curve.fmr, [0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(curve.fnmr, [0.25, 0.25, 0.25, 0.5, 0.5, 0.75, 1.0])


def test_roc_curve_is_read_only() -> None:
    curve = roc_curve(GENUINE, IMPOSTOR)
    with pytest.raises(ValueError, match="read-only"):
        curve.fmr[0] = 1.0


def test_roc_curve_all_failures_to_acquire() -> None:
    curve = roc_curve([NEG_INF], [NEG_INF, NEG_INF])
    np.testing.assert_array_equal(curve.thresholds, [math.inf])
    np.testing.assert_array_equal(curve.fmr, [0.0])
    np.testing.assert_array_equal(curve.fnmr, [1.0])


def test_roc_curve_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        roc_curve([], [0.1])


# Few distinct values, so ties are frequent; -inf marks failures to acquire.
_score = st.one_of(st.integers(-4, 4).map(lambda v: v / 4), st.just(NEG_INF))
_scores = st.lists(_score, min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(genuine=_scores, impostor=_scores)
def test_roc_curve_agrees_with_fmr_fnmr(genuine: list[float], impostor: list[float]) -> None:
    curve = roc_curve(genuine, impostor)
    for t, fmr, fnmr in zip(curve.thresholds, curve.fmr, curve.fnmr, strict=True):
        assert fmr_fnmr(genuine, impostor, float(t)) == (fmr, fnmr)
    assert np.all(np.diff(curve.thresholds) > 0)
    assert curve.fmr[-1] == 0.0
    assert curve.fnmr[-1] == 1.0
    # A threshold at or below the lowest finite score gives the same rates as the first entry.
    assert fmr_fnmr(genuine, impostor, NEG_INF) == (curve.fmr[0], curve.fnmr[0])


@settings(max_examples=200, deadline=None)
@given(genuine=_scores, impostor=_scores, thresholds=st.lists(_score | st.just(math.inf), min_size=2, max_size=8))
def test_fmr_non_increasing_fnmr_non_decreasing(
    genuine: list[float], impostor: list[float], thresholds: list[float]
) -> None:
    rates = [fmr_fnmr(genuine, impostor, t) for t in sorted(thresholds)]
    fmrs = [r[0] for r in rates]
    fnmrs = [r[1] for r in rates]
    assert all(a >= b for a, b in itertools.pairwise(fmrs))
    assert all(a <= b for a, b in itertools.pairwise(fnmrs))


# --- threshold_at_fmr / tar_at_far / fnmr_at_fmr --------------------------------------------------


def test_threshold_at_fmr_hand_computed() -> None:
    t = threshold_at_fmr(IMPOSTOR, 0.2)
    assert t == np.nextafter(0.5, math.inf)  # just above the impostor 0.5 that must be rejected
    assert fmr_fnmr(GENUINE, IMPOSTOR, t)[0] == pytest.approx(0.2)
    assert fmr_fnmr(GENUINE, IMPOSTOR, 0.5)[0] > 0.2
    assert threshold_at_fmr(IMPOSTOR, 0.0) == np.nextafter(0.6, math.inf)
    assert threshold_at_fmr(IMPOSTOR, 0.8) == NEG_INF  # all acquired impostors may match
    assert threshold_at_fmr(IMPOSTOR, 1.0) == NEG_INF


def test_threshold_at_fmr_ties_reach_a_lower_fmr() -> None:
    impostor = [0.5] * 10
    t = threshold_at_fmr(impostor, 0.5)
    assert t == np.nextafter(0.5, math.inf)
    assert fmr_fnmr([1.0], impostor, t)[0] == 0.0


def test_threshold_at_fmr_exact_fraction() -> None:
    impostor = np.arange(1000, dtype=np.float64)
    t = threshold_at_fmr(impostor, 1e-3)
    assert t == np.nextafter(998.0, math.inf)
    assert fmr_fnmr([0.0], impostor, t)[0] == pytest.approx(1e-3)
    t3 = threshold_at_fmr(np.arange(10.0), 0.3)
    assert fmr_fnmr([0.0], np.arange(10.0), t3)[0] == pytest.approx(0.3)


@pytest.mark.parametrize("target", [-0.1, 1.5, math.nan])
def test_threshold_at_fmr_rejects_bad_target(target: float) -> None:
    with pytest.raises(ValueError, match="target_fmr"):
        threshold_at_fmr([0.1], target)


@settings(max_examples=200, deadline=None)
@given(impostor=_scores, target=st.floats(0.0, 1.0))
def test_threshold_at_fmr_is_smallest(impostor: list[float], target: float) -> None:
    t = threshold_at_fmr(impostor, target)
    assert fmr_fnmr([0.0], impostor, t)[0] <= target
    if t > NEG_INF:
        assert fmr_fnmr([0.0], impostor, float(np.nextafter(t, NEG_INF)))[0] > target


def test_tar_at_far_and_fnmr_at_fmr() -> None:
    tar, t = tar_at_far(GENUINE, IMPOSTOR, 0.2)
    assert t == np.nextafter(0.5, math.inf)
    assert tar == pytest.approx(0.5)  # genuine 0.9 and 0.8 match; 0.5 and -inf do not
    fnmr, t2 = fnmr_at_fmr(GENUINE, IMPOSTOR, 0.2)
    assert (fnmr, t2) == (pytest.approx(0.5), t)


# --- eer ------------------------------------------------------------------------------------------


def test_eer_hand_computed() -> None:
    value, threshold = eer(GENUINE, IMPOSTOR)
    assert threshold == 0.5
    assert value == pytest.approx((0.4 + 0.25) / 2)


def test_eer_perfect_separation_is_zero() -> None:
    value, threshold = eer([0.7, 0.8, 0.9], [0.1, 0.2, 0.3])
    assert value == 0.0
    assert threshold == 0.7


def test_eer_exact_crossing() -> None:
    # At 0.5: FMR = 1/4 (impostor 0.6), FNMR = 1/4 (genuine 0.4).
    value, threshold = eer([0.4, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.6])
    assert value == pytest.approx(0.25)
    assert fmr_fnmr([0.4, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.6], threshold) == pytest.approx((0.25, 0.25))


# --- kfold_accuracy -------------------------------------------------------------------------------


def _two_fold_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.array([0.9, 0.4, 0.3, 0.5, 0.8, 0.6, 0.2, 0.7])
    labels = np.array([True, True, False, False, True, True, False, False])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    return scores, labels, folds


def test_kfold_hand_computed() -> None:
    scores, labels, folds = _two_fold_example()
    result = kfold_accuracy(scores, labels, folds)
    # Fold 0: trained on fold 1, candidates -inf, 0.4, 0.65, 0.75, inf score 2, 3, 2, 3, 2 -> 0.4 (lowest best).
    # At 0.4 on fold 0: mated 0.9, 0.4 match, non-mated 0.3 rejected, 0.5 wrongly matches -> 3/4.
    # Fold 1: trained on fold 0, best candidate 0.35; non-mated 0.7 wrongly matches -> 3/4.
    np.testing.assert_array_equal(result.fold_ids, [0, 1])
    np.testing.assert_allclose(result.thresholds, [0.4, 0.35])
    np.testing.assert_allclose(result.accuracies, [0.75, 0.75])
    assert result.mean == pytest.approx(0.75)
    assert result.std == pytest.approx(0.0)


def _separable_10_fold() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    folds = np.repeat(np.arange(10), 4)
    labels = np.tile([True, True, False, False], 10)
    scores = np.where(labels, 0.8, 0.2) + np.arange(40) * 1e-3
    return scores, labels, folds


def test_kfold_perfect_separation_is_one() -> None:
    scores, labels, folds = _separable_10_fold()
    result = kfold_accuracy(scores, labels, folds)
    np.testing.assert_array_equal(result.accuracies, np.ones(10))
    assert result.mean == 1.0
    assert result.std == 0.0


def test_kfold_forced_errors_lower_accuracy_exactly() -> None:
    scores, labels, folds = _separable_10_fold()
    forced = np.zeros(40, dtype=bool)
    forced[0] = True  # a mated pair of fold 0: wrong although its score would match
    forced[7] = True  # a non-mated pair of fold 1: wrong although its score would be rejected
    forced[8:10] = True  # both mated pairs of fold 2
    result = kfold_accuracy(scores, labels, folds, forced_errors=forced)
    expected = np.ones(10)
    expected[0] = 3 / 4
    expected[1] = 3 / 4
    expected[2] = 2 / 4
    np.testing.assert_allclose(result.accuracies, expected)
    assert result.mean == pytest.approx(expected.mean())
    assert result.std == pytest.approx(expected.std())


def test_kfold_forced_errors_with_inf_scores() -> None:
    scores, labels, folds = _separable_10_fold()
    scores[0] = NEG_INF
    forced = np.zeros(40, dtype=bool)
    forced[0] = True
    result = kfold_accuracy(scores, labels, folds, forced_errors=forced)
    assert result.accuracies[0] == 0.75
    assert result.mean == pytest.approx(0.975)


def test_kfold_synthetic_10_folds() -> None:
    rng = np.random.default_rng(0)
    per_fold = 300
    folds = np.repeat(np.arange(10), 2 * per_fold)
    labels = np.tile(np.repeat([True, False], per_fold), 10)
    scores = rng.normal(np.where(labels, 1.0, -1.0), 1.0)
    result = kfold_accuracy(scores, labels, folds)
    assert result.accuracies.shape == (10,)
    assert 0.80 < result.mean < 0.88  # Phi(1) = 0.841 for unit-variance normals two units apart
    assert np.all(np.abs(result.thresholds) < 0.3)
    np.testing.assert_allclose(result.accuracies, _brute_force_kfold(scores, labels, folds, np.zeros_like(labels)))


def _brute_force_kfold(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray, forced: np.ndarray) -> np.ndarray:
    def correct(t: float, mask: np.ndarray) -> int:
        match = (scores >= t) & np.isfinite(scores)
        return int(np.count_nonzero(mask & ~forced & (match == labels)))

    accuracies = []
    for fold in np.unique(folds):
        train = (folds != fold) & ~forced
        distinct = sorted({float(s) for s in scores[train] if math.isfinite(s)})
        candidates = [NEG_INF] + [a / 2 + b / 2 for a, b in itertools.pairwise(distinct)] + [math.inf]
        best = max(candidates, key=lambda t: (correct(t, train), -t))
        test = folds == fold
        accuracies.append(correct(best, test) / np.count_nonzero(test))
    return np.array(accuracies)


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(st.tuples(_score, st.booleans(), st.integers(0, 2), st.booleans()), min_size=2, max_size=30),
)
def test_kfold_matches_brute_force(data: list[tuple[float, bool, int, bool]]) -> None:
    scores = np.array([d[0] for d in data])
    labels = np.array([d[1] for d in data])
    folds = np.array([d[2] for d in data])
    forced = np.array([d[3] for d in data])
    if np.unique(folds).size < 2:
        folds[0] = 0 if folds[1] != 0 else 1
    result = kfold_accuracy(scores, labels, folds, forced_errors=forced)
    np.testing.assert_allclose(result.accuracies, _brute_force_kfold(scores, labels, folds, forced))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.array([1, 0, 1])}, "labels must be a boolean"),
        ({"labels": np.array([True, False])}, "labels must have shape"),
        ({"folds": np.array([0.0, 1.0, 1.0])}, "folds must be an integer"),
        ({"folds": np.array([0, 1])}, "folds must have shape"),
        ({"folds": np.array([0, 0, 0])}, "at least two folds"),
        ({"scores": np.array([0.1, math.nan, 0.2])}, "NaN"),
        ({"forced_errors": np.array([0, 0, 1])}, "forced_errors must be a boolean"),
    ],
)
def test_kfold_rejects_bad_input(kwargs: dict[str, np.ndarray], message: str) -> None:
    args: dict[str, np.ndarray] = {
        "scores": np.array([0.1, 0.5, 0.9]),
        "labels": np.array([False, True, True]),
        "folds": np.array([0, 1, 1]),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kfold_accuracy(**args)


def test_kfold_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        kfold_accuracy(np.array([]), np.array([], dtype=bool), np.array([], dtype=int))


# --- plots ----------------------------------------------------------------------------------------


@pytest.fixture
def curves() -> dict[str, RocCurve]:
    rng = np.random.default_rng(1)
    return {
        "model-a": roc_curve(rng.normal(1.0, 1.0, 500), rng.normal(-1.0, 1.0, 5000)),
        "perfect": roc_curve([0.9, 0.8], [0.1, 0.2]),
    }


def test_save_det_plot_writes_png(tmp_path: Path, curves: dict[str, RocCurve]) -> None:
    out = save_det_plot(curves, tmp_path / "sub" / "det.png", "DET")
    assert out == tmp_path / "sub" / "det.png"
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_save_roc_plot_writes_png(tmp_path: Path, curves: dict[str, RocCurve]) -> None:
    out = save_roc_plot(curves, tmp_path / "roc.png", "ROC")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_save_det_plot_rejects_no_curves(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no curves"):
        save_det_plot({}, tmp_path / "det.png", "DET")


def test_plots_module_does_not_import_matplotlib() -> None:
    code = "import sys, laneface.evaluation.plots; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

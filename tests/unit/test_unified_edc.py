"""Unified quality model, EDC curves and synthetic degradations, on synthetic data (no model files)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from laneface.errors import ConfigError
from laneface.evaluation.bench_quality import measure_goodness
from laneface.evaluation.degrade import (
    DEGRADATIONS,
    DegradationMix,
    apply_degradation,
    default_landmarks,
    random_degradation,
)
from laneface.evaluation.edc import (
    edc_area,
    edc_curve,
    oracle_curve,
    random_discard_curve,
    save_edc_plot,
)
from laneface.quality import (
    FaceSample,
    MeasureResult,
    Profile,
    QualityAssessor,
    Requirement,
    SigmoidMapping,
    UnifiedQualityModel,
    load_unified_model,
)
from laneface.quality.template import QUALITY_128
from laneface.quality.unified import DEFAULT_FEATURES, FeatureSpec, fit_logistic, fit_unified_model
from laneface.types import FaceDetections

# ------------------------------------------------------------------------------------------------ EDC


def test_edc_of_a_perfect_quality_reaches_zero_and_never_rises() -> None:
    rng = np.random.default_rng(0)
    genuine = rng.normal(0.6, 0.2, 1000)
    quality = genuine + 0.0  # quality that ranks exactly like the score
    curve = edc_curve(quality, genuine, 0.4)
    assert curve.at(0.0) == pytest.approx(np.mean(genuine < 0.4))
    assert np.all(np.diff(curve.fnmr) <= 1e-12)
    errors = int(np.sum(genuine < 0.4))
    assert curve.fnmr[errors] == 0.0  # every error discarded first
    oracle = oracle_curve(genuine, 0.4)
    np.testing.assert_allclose(curve.fnmr, oracle.fnmr)


def test_edc_of_a_useless_quality_stays_near_the_random_baseline() -> None:
    rng = np.random.default_rng(1)
    genuine = rng.normal(0.5, 0.2, 20000)
    curve = edc_curve(rng.random(genuine.size), genuine, 0.4)
    flat = random_discard_curve(genuine, 0.4)
    assert np.all(flat.fnmr == flat.fnmr[0])
    assert np.max(np.abs(curve.fnmr - flat.fnmr)) < 0.01
    assert edc_area(curve) == pytest.approx(edc_area(flat), rel=0.03)


def test_edc_area_and_points_by_hand() -> None:
    # 4 comparisons, threshold 0.5: scores 0.1 (error), 0.9, 0.2 (error), 0.8; quality ranks the 0.1 first
    genuine = [0.1, 0.9, 0.2, 0.8]
    quality = [0.0, 3.0, 2.0, 1.0]
    curve = edc_curve(quality, genuine, 0.5, max_fraction=0.5)
    assert curve.discarded.tolist() == [0, 1, 2]
    assert curve.fnmr.tolist() == pytest.approx([2 / 4, 1 / 3, 1 / 2])  # then discards the 0.8
    # trapezoids over x = 0, .25, .5: .25 * (.5 + 1/3) / 2 + .25 * (1/3 + .5) / 2
    assert edc_area(curve, 0.5) == pytest.approx(0.25 * (0.5 + 1 / 3))
    assert curve.at(0.25) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="no point"):
        curve.at(0.75)


@pytest.mark.parametrize("n", [596, 599, 1000, 7])
def test_edc_reported_points_exist_for_any_size_and_the_area_ends_at_max_fraction(n: int) -> None:
    genuine = np.random.default_rng(n).normal(0.5, 0.2, n)
    flat = random_discard_curve(genuine, 0.4)
    curve = edc_curve(genuine, genuine, 0.4)
    for f in (0.0, 0.05, 0.1, 0.2, 0.3):
        assert 0.0 <= curve.at(f) <= flat.at(f)
    assert edc_area(flat) == pytest.approx(0.3 * flat.at(0.0))


def test_edc_failures_to_acquire_never_match_and_minus_inf_quality_goes_first() -> None:
    genuine = [-math.inf, 0.9, 0.8, 0.7]
    quality = [-math.inf, 0.0, 0.0, 0.0]
    curve = edc_curve(quality, genuine, 0.5, [0.0, 0.25])
    assert curve.fnmr.tolist() == [0.25, 0.0]


def test_edc_ties_are_broken_by_the_seed_only() -> None:
    rng = np.random.default_rng(2)
    genuine = rng.normal(0.5, 0.3, 500)
    quality = np.zeros(500)
    a = edc_curve(quality, genuine, 0.4, seed=3)
    b = edc_curve(quality, genuine, 0.4, seed=3)
    c = edc_curve(quality, genuine, 0.4, seed=4)
    np.testing.assert_array_equal(a.fnmr, b.fnmr)
    assert not np.array_equal(a.fnmr, c.fnmr)


@pytest.mark.parametrize(
    ("quality", "genuine"),
    [([0.1], [0.1, 0.2]), ([math.nan, 1], [0.1, 0.2]), ([1, 2], [math.nan, 0.2]), ([1, 2], [math.inf, 0.2])],
)
def test_edc_refuses_bad_input(quality: list[float], genuine: list[float]) -> None:
    with pytest.raises(ValueError):
        edc_curve(quality, genuine, 0.5)


def test_save_edc_plot_writes_a_png(tmp_path: Path) -> None:
    genuine = np.linspace(0, 1, 50)
    curves = {"q": edc_curve(genuine, genuine, 0.3), "random": random_discard_curve(genuine, 0.3)}
    path = save_edc_plot(curves, tmp_path / "sub" / "edc.png", "t", emphasise=["q"], dashed=["random"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        save_edc_plot({}, tmp_path / "x.png", "t")


def test_measure_goodness_follows_the_mapping_direction() -> None:
    results = [
        {"yaw": MeasureResult.ok("yaw", -40.0)},
        {"yaw": MeasureResult.ok("yaw", 5.0)},
        {"yaw": MeasureResult.failure("yaw", "x")},
        {},
    ]
    g = measure_goodness(results, "yaw", SigmoidMapping(x0=25, w=-6, center=0))
    assert g[1] > g[0] > g[2] > g[3] == -math.inf


# ------------------------------------------------------------------------------------ logistic / model


def test_logistic_fit_recovers_a_known_direction() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4000, 3))
    true = np.array([2.0, -1.0, 0.0])
    y = rng.random(4000) < 1 / (1 + np.exp(-(x @ true + 0.5)))
    coef, intercept = fit_logistic(x, y, 1e-4)
    assert coef / np.linalg.norm(coef) == pytest.approx(true / np.linalg.norm(true), abs=0.05)
    assert intercept == pytest.approx(0.5, abs=0.15)
    with pytest.raises(ValueError):
        fit_logistic(x, y, 0.0)


def _synthetic_fit() -> tuple[UnifiedQualityModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(6)
    specs = (FeatureSpec("ied", "inter_eye_distance", "log"), FeatureSpec("yaw", "yaw", "abs"))
    n = 3000
    ied = rng.uniform(8, 60, n)
    yaw = rng.uniform(-60, 60, n)
    logit = 3 * (np.log(ied) - np.log(20)) - 0.08 * (np.abs(yaw) - 25)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    x = np.stack([np.log(ied), np.abs(yaw)], axis=1)
    x[::50, 1] = np.nan  # some failures to assess
    model, report = fit_unified_model(x, y, specs, groups=np.arange(n) % 3, metadata={"model_version": "t1"})
    assert report.samples == n and report.groups == 3 and report.l2 in report.cv_log_loss
    return model, x, y


def test_fitted_model_ranks_faces_as_the_truth_and_stays_in_0_100() -> None:
    model, x, y = _synthetic_fit()
    p = model.probability(x)
    assert np.all((p > 0) & (p < 1))
    auc_pairs = np.mean(p[y][:, None] > p[~y][None, :])
    assert auc_pairs > 0.8
    big_frontal = {"inter_eye_distance": MeasureResult.ok("i", 50.0), "yaw": MeasureResult.ok("y", 2.0)}
    small_turned = {"inter_eye_distance": MeasureResult.ok("i", 9.0), "yaw": MeasureResult.ok("y", -55.0)}
    good, bad = model.unified(big_frontal), model.unified(small_turned)
    assert good is not None and bad is not None and 0 <= bad < good <= 100
    assert good > 80 and bad < 20
    # values beyond the training range are clipped, not extrapolated
    assert model.unified({**big_frontal, "inter_eye_distance": MeasureResult.ok("i", 5000.0)}) == pytest.approx(
        model.unified({**big_frontal, "inter_eye_distance": MeasureResult.ok("i", 60.0)}), abs=1.0
    )
    assert model.unified({}) is None
    assert model.unified({"yaw": MeasureResult.ok("y", 0.0)}) is not None  # the missing one is imputed


def test_model_json_round_trip(tmp_path: Path) -> None:
    model, x, _ = _synthetic_fit()
    path = model.save(tmp_path / "m.json")
    again = UnifiedQualityModel.load(path)
    np.testing.assert_allclose(again.probability(x), model.probability(x), rtol=0, atol=1e-12)
    assert again.version == "t1" and again.measures == ("inter_eye_distance", "yaw")
    data = json.loads(path.read_text())
    data["format"] = "other"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="format"):
        UnifiedQualityModel.load(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text("{")
    with pytest.raises(ConfigError):
        load_unified_model(tmp_path / "bad2.json")
    data["format"] = model.to_dict()["format"]
    data["coef"] = data["coef"][:-1]
    (tmp_path / "bad3.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="malformed"):
        UnifiedQualityModel.load(tmp_path / "bad3.json")


def test_shipped_model_reads_every_builtin_measure() -> None:
    model = load_unified_model()
    assert [s.name for s in model.features] == [s.name for s in DEFAULT_FEATURES]
    for key in ("model_version", "threshold", "target_fmr", "detector", "embedder", "dataset", "created"):
        assert key in model.metadata


# ------------------------------------------------------------------------------------------ assessor


def _detections() -> FaceDetections:
    lms = (QUALITY_128.as_array() + 40.0)[None].astype(np.float32)
    return FaceDetections(np.array([[30, 20, 170, 180]], np.float32), lms, np.array([0.9], np.float32), "fake")


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)


def test_assessor_unified_comes_from_the_model() -> None:
    assessor = QualityAssessor.from_config("lenient")
    report = assessor.assess(_image(), _detections())[0]
    assert report.unified is not None and 0.0 <= report.unified <= 100.0
    assert assessor.unified_model is not None
    expected = assessor.unified_model.unified(report.measures)
    assert expected is not None and report.unified == round(expected, 1)


def test_assessor_takes_a_model_file_and_checks_its_measures(tmp_path: Path) -> None:
    model, _, _ = _synthetic_fit()
    path = model.save(tmp_path / "m.json")
    assessor = QualityAssessor.from_config("lenient", unified_model_file=path)
    assert assessor.unified_model is not None and assessor.unified_model.version == "t1"

    class Const:
        name = "inter_eye_distance"

        def measure(self, sample: FaceSample) -> MeasureResult:
            return MeasureResult.ok(self.name, 30.0)

    profile = Profile("p", (Requirement("inter_eye_distance", min=1),))
    with pytest.raises(ConfigError, match="yaw"):
        QualityAssessor([Const()], {}, profile, unified_model=model)
    bare = QualityAssessor([Const()], {}, profile)
    assert bare.assess_one(FaceSample.from_detection(_image(), _detections(), 0)).unified is None


# --------------------------------------------------------------------------------------- degradations


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A synthetic 250x250 'face': smooth shading with dark eyes and mouth at the LFW landmark layout."""
    import cv2

    yy, xx = np.mgrid[0:250, 0:250]
    img = np.stack([120 + 0.3 * xx, 100 + 0.2 * yy, 90 + 0.1 * (xx + yy)], axis=-1).astype(np.float32)
    lms = default_landmarks(np.zeros((250, 250, 3), np.uint8))
    for x, y in lms[:2]:
        cv2.circle(img, (round(x), round(y)), 6, (20, 20, 20), -1)
    cv2.line(img, tuple(int(v) for v in lms[3]), tuple(int(v) for v in lms[4]), (60, 10, 10), 3)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_each_degradation_is_deterministic_and_changes_the_image(face: np.ndarray, name: str) -> None:
    a, info_a = apply_degradation(name, face, np.random.default_rng(9), 0.8)
    b, info_b = apply_degradation(name, face, np.random.default_rng(9), 0.8)
    np.testing.assert_array_equal(a, b)
    assert info_a == info_b and info_a["kind"] == name and info_a["severity"] == 0.8
    assert a.dtype == np.uint8 and a.ndim == 3
    json.dumps(info_a)
    if a.shape == face.shape:
        assert np.abs(a.astype(int) - face.astype(int)).max() > 20
    assert face[0, 0].tolist() == [120, 100, 90]  # the input is not modified


def _sharpness(img: np.ndarray) -> float:
    import cv2

    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F).std())


def test_degradations_do_what_they_say(face: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    mild, _ = apply_degradation("gaussian_blur", face, rng, 0.1)
    harsh, info = apply_degradation("gaussian_blur", face, rng, 1.0)
    assert _sharpness(harsh) < _sharpness(mild) < _sharpness(face)
    assert info["sigma_px"] > 3
    small = None
    for seed in range(10):  # half of the downscales keep the small image
        out, info = apply_degradation("downscale", face, np.random.default_rng(seed), 1.0)
        if not info["upsampled"]:
            small = out
            break
    assert small is not None and small.shape[1] == pytest.approx(250 * 8 / 43.7, abs=2)
    dark, info = apply_degradation("exposure", face, np.random.default_rng(1), 0.9)
    assert (dark.mean() < face.mean()) == (info["direction"] == "under")
    noisy, _ = apply_degradation("noise", face, np.random.default_rng(1), 1.0)
    assert np.std(noisy.astype(float) - face) > 25
    for seed in range(12):
        occluded, info = apply_degradation("occlusion", face, np.random.default_rng(seed), 0.5)
        if info["style"] == "mask":
            mouth = default_landmarks(face)[3:].mean(axis=0).round().astype(int)
            assert not np.array_equal(occluded[mouth[1], mouth[0]], face[mouth[1], mouth[0]])
            break
    _, info = apply_degradation("pose", face, np.random.default_rng(2), 1.0)
    assert abs(info["yaw_deg"]) == pytest.approx(65.0)
    with pytest.raises(ValueError):
        apply_degradation("fog", face, rng, 0.5)
    with pytest.raises(ValueError):
        apply_degradation("noise", face, rng, 1.5)


def test_random_degradation_mix_is_seeded_and_follows_the_shares(face: np.ndarray) -> None:
    a, info_a = random_degradation(face, np.random.default_rng(11))
    b, info_b = random_degradation(face, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert info_a == info_b
    kinds = [random_degradation(face, np.random.default_rng(s))[1]["kinds"] for s in range(300)]
    share_none = np.mean([k == ["none"] for k in kinds])
    share_double = np.mean([len(k) == 2 for k in kinds])
    assert share_none == pytest.approx(0.25, abs=0.07) and share_double == pytest.approx(0.15, abs=0.06)
    only_jpeg = DegradationMix(none=0.0, double=0.0, kinds=("jpeg",))
    assert random_degradation(face, np.random.default_rng(0), mix=only_jpeg)[1]["kinds"] == ["jpeg"]
    with pytest.raises(ValueError):
        DegradationMix(none=0.8, double=0.5)
    with pytest.raises(ValueError):
        DegradationMix(kinds=("fog",))

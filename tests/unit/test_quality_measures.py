"""Each quality measure on a drawn face where the answer is known, plus property tests."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.quality import FaceSample, MeasureResult, QualityAssessor, default_measures
from laneface.quality.measures import (
    BlockinessMeasure,
    DetectionConfidenceMeasure,
    ExposureMeasure,
    EyesVisibleMeasure,
    FaceSizeMeasure,
    IlluminationUniformityMeasure,
    InterEyeDistanceMeasure,
    LowerFaceOcclusionMeasure,
    OverExposureMeasure,
    RollMeasure,
    SharpnessMeasure,
    UnderExposureMeasure,
)

Image = npt.NDArray[np.uint8]

# a 256x256 face with 64 px between the eyes, landmarks in the layout of the quality template
EYES = ((96, 110), (160, 110))
LANDMARKS = np.array([[96, 110], [160, 110], [128, 146], [100.8, 174], [155.2, 174]], np.float32)
BOX = np.array([64, 40, 192, 230], np.float32)


def draw_face(seed: int = 0, *, closed_eyes: bool = False) -> Image:
    rng = np.random.default_rng(seed)
    img = np.zeros((256, 256, 3), np.uint8)
    img[:] = (70, 90, 120)
    cv2.ellipse(img, (128, 140), (70, 95), 0, 0, 360, (205, 160, 135), -1)
    texture = cv2.GaussianBlur(rng.normal(0, 10, (256, 256)).astype(np.float32), (0, 0), 1.2)
    img = np.clip(img.astype(np.float32) + texture[:, :, None] * 1.5, 0, 255).astype(np.uint8)
    for x, y in EYES:
        cv2.line(img, (x - 16, y - 16), (x + 16, y - 18), (70, 45, 35), 3)  # brow
        if closed_eyes:
            cv2.ellipse(img, (x, y), (14, 5), 0, 0, 180, (60, 40, 35), 1)  # lash line
        else:
            cv2.ellipse(img, (x, y), (14, 7), 0, 0, 360, (235, 235, 230), -1)
            cv2.circle(img, (x, y), 6, (80, 50, 30), -1)
            cv2.circle(img, (x, y), 3, (10, 10, 10), -1)
            cv2.circle(img, (x + 2, y - 2), 1, (255, 255, 255), -1)
    cv2.line(img, (128, 118), (122, 146), (175, 130, 110), 2)  # nose ridge
    cv2.ellipse(img, (128, 150), (10, 4), 0, 0, 360, (150, 105, 90), -1)  # nostrils
    cv2.ellipse(img, (128, 174), (27, 8), 0, 0, 360, (185, 70, 80), -1)  # lips
    cv2.line(img, (102, 174), (154, 174), (90, 30, 40), 2)  # mouth line
    return img


def sample(img: Image, landmarks: npt.NDArray[np.float32] = LANDMARKS, score: float = 0.9) -> FaceSample:
    return FaceSample.from_face(img, BOX, landmarks, score)


def raw(measure: object, s: FaceSample) -> float:
    result: MeasureResult = measure.measure(s)  # type: ignore[attr-defined]
    assert result.status == "ok", result
    assert result.raw is not None
    return result.raw


def rotate(img: Image, landmarks: npt.NDArray[np.float32], angle_deg: float) -> tuple[Image, npt.NDArray[np.float32]]:
    """Rotate counter-clockwise (as displayed) by ``angle_deg`` about the image centre."""
    m = cv2.getRotationMatrix2D((128.0, 128.0), angle_deg, 1.0)
    out = cv2.warpAffine(img, m, (256, 256), borderMode=cv2.BORDER_REPLICATE)
    pts = landmarks @ m[:, :2].T + m[:, 2]
    return np.ascontiguousarray(out), pts.astype(np.float32)


def test_geometry_measures() -> None:
    s = sample(draw_face())
    assert raw(InterEyeDistanceMeasure(), s) == pytest.approx(64.0)
    assert raw(FaceSizeMeasure(), s) == pytest.approx(math.sqrt(128 * 190))
    assert raw(DetectionConfidenceMeasure(), s) == pytest.approx(0.9)


def test_gaussian_blur_lowers_sharpness_monotonically() -> None:
    img = draw_face()
    blurred = [img] + [cv2.GaussianBlur(img, (0, 0), sigma) for sigma in (1, 2, 3, 5)]
    values = [raw(SharpnessMeasure(), sample(b)) for b in blurred]
    assert all(a > b for a, b in itertools.pairwise(values)), values


def test_sharpness_does_not_depend_on_exposure() -> None:
    img = draw_face()
    dark = (img.astype(np.float32) * 0.5).astype(np.uint8)
    assert raw(SharpnessMeasure(), sample(dark)) == pytest.approx(raw(SharpnessMeasure(), sample(img)), rel=0.1)


@pytest.mark.parametrize("angle", [10.0, -10.0, 25.0])
def test_rotation_gives_roll_with_its_sign(angle: float) -> None:
    img, lms = rotate(draw_face(), LANDMARKS, angle)
    assert raw(RollMeasure(), sample(img, lms)) == pytest.approx(angle, abs=0.5)


def test_darkening_lowers_exposure_and_flags_under_exposure() -> None:
    img = draw_face()
    dark = (img.astype(np.float32) * 0.12).astype(np.uint8)
    assessor = QualityAssessor.from_config("vehicle")
    bright_report, dark_report = assessor.assess_one(sample(img)), assessor.assess_one(sample(dark))
    assert dark_report.measures["exposure"].raw < bright_report.measures["exposure"].raw  # type: ignore[operator]
    assert dark_report.measures["exposure"].scalar < bright_report.measures["exposure"].scalar  # type: ignore[operator]
    assert raw(UnderExposureMeasure(), sample(dark)) > 0.5 > raw(UnderExposureMeasure(), sample(img))
    assert any(f.startswith("under_exposure <=") for f in dark_report.failed)
    assert not any(f.startswith("under_exposure") for f in bright_report.failed)


def test_overexposure_is_flagged() -> None:
    img = draw_face()
    bright = np.clip(img.astype(np.float32) * 2.5, 0, 255).astype(np.uint8)
    assert raw(OverExposureMeasure(), sample(bright)) > 0.5 > raw(OverExposureMeasure(), sample(img))
    assert raw(ExposureMeasure(), sample(bright)) > raw(ExposureMeasure(), sample(img))


def test_half_face_shading_lowers_uniformity() -> None:
    img = draw_face()
    shaded = img.copy()
    shaded[:, 128:] = (shaded[:, 128:].astype(np.float32) * 0.35).astype(np.uint8)
    even = raw(IlluminationUniformityMeasure(), sample(img))
    assert even > 0.8
    assert raw(IlluminationUniformityMeasure(), sample(shaded)) < even - 0.4


def _jpeg(img: Image, quality: int) -> Image:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))


def test_jpeg_quality_5_raises_blockiness() -> None:
    img = draw_face()
    lossless = raw(BlockinessMeasure(), sample(img))
    assert lossless < 1.3
    assert raw(BlockinessMeasure(), sample(_jpeg(img, 5))) > lossless + 0.5


def test_blockiness_ignores_where_the_grid_starts() -> None:
    blocky = _jpeg(draw_face(), 5)
    shifted = np.ascontiguousarray(blocky[3:, 5:])
    s = FaceSample.from_face(shifted, BOX - np.array([5, 3, 5, 3]), LANDMARKS - np.array([5, 3]), 0.9)
    assert raw(BlockinessMeasure(), s) > 1.5


def test_flat_patch_over_the_lower_face_raises_occlusion() -> None:
    img = draw_face()
    covered = img.copy()
    cv2.rectangle(covered, (80, 150), (176, 226), (225, 228, 232), -1)
    assert raw(LowerFaceOcclusionMeasure(), sample(img)) < 0.2
    assert raw(LowerFaceOcclusionMeasure(), sample(covered)) > 0.8


def test_sunglasses_and_closed_eyes_lower_eyes_visible() -> None:
    img = draw_face()
    glasses = img.copy()
    for x, y in EYES:
        cv2.ellipse(glasses, (x, y), (22, 15), 0, 0, 360, (20, 20, 25), -1)
    open_eyes = raw(EyesVisibleMeasure(), sample(img))
    assert open_eyes > 0.4
    assert raw(EyesVisibleMeasure(), sample(glasses)) < 0.05
    assert raw(EyesVisibleMeasure(), sample(draw_face(closed_eyes=True))) < open_eyes - 0.2


def test_glare_on_the_eyes_lowers_eyes_visible() -> None:
    img = draw_face()
    glare = img.copy()
    for x, y in EYES:
        cv2.ellipse(glare, (x, y), (12, 6), 0, 0, 360, (255, 255, 255), -1)
    assert raw(EyesVisibleMeasure(), sample(glare)) < 0.5 * raw(EyesVisibleMeasure(), sample(img))


def test_degenerate_landmarks_fail_to_assess_instead_of_guessing() -> None:
    s = sample(draw_face(), np.full((5, 2), 50.0, np.float32))
    assert s.crop_rgb is None
    report = QualityAssessor.from_config("vehicle").assess_one(s)
    for name in ("yaw", "pitch", "roll", "sharpness", "exposure", "eyes_visible", "lower_face_occlusion"):
        r = report.measures[name]
        assert r.status == "failure_to_assess" and r.raw is None and r.scalar is None and r.reason, r
    assert not report.passed
    assert any("failure to assess" in f for f in report.failed)


def test_black_image_fails_to_assess_contrast_measures() -> None:
    s = sample(np.zeros((256, 256, 3), np.uint8))
    for m in (SharpnessMeasure(), EyesVisibleMeasure(), LowerFaceOcclusionMeasure()):
        assert m.measure(s).status == "failure_to_assess"
    assert raw(UnderExposureMeasure(), s) == 1.0


def test_sample_rejects_bad_shapes() -> None:
    img = draw_face()
    with pytest.raises(ValueError):
        FaceSample.from_face(img, BOX[:3], LANDMARKS, 0.9)
    with pytest.raises(ValueError):
        FaceSample.from_face(img, BOX, LANDMARKS[:4], 0.9)
    with pytest.raises(ValueError):
        FaceSample(img, BOX, LANDMARKS, 0.9, np.zeros((112, 112, 3), np.uint8))
    with pytest.raises(ValueError):
        FaceSample.from_face(img[:, :, 0], BOX, LANDMARKS, 0.9)


@st.composite
def faces(draw: st.DrawFn) -> FaceSample:
    h = draw(st.integers(24, 160))
    w = draw(st.integers(24, 160))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if draw(st.booleans()):
        img = cv2.GaussianBlur(img, (0, 0), draw(st.floats(0.5, 4.0)))
    scale = draw(st.floats(0.05, 3.0))
    angle = draw(st.floats(-math.pi, math.pi))
    c, s = math.cos(angle), math.sin(angle)
    pts = (LANDMARKS - 128.0) @ (scale * np.array([[c, -s], [s, c]])).T + np.array([w / 2, h / 2])
    pts = pts + rng.normal(0, draw(st.floats(0.0, 5.0)), pts.shape)
    box = np.array([pts[:, 0].min() - 5, pts[:, 1].min() - 5, pts[:, 0].max() + 5, pts[:, 1].max() + 5])
    return FaceSample.from_face(img, box, pts, draw(st.floats(0.0, 1.0)))


@given(s=faces())
@settings(max_examples=40, deadline=None)
def test_every_scalar_is_0_to_100_or_none_and_status_matches_values(s: FaceSample) -> None:
    report = QualityAssessor.from_config("lenient").assess_one(s)
    assert set(report.measures) == {m.name for m in default_measures()}
    for r in report.measures.values():
        if r.status == "ok":
            assert r.raw is not None and math.isfinite(r.raw)
            assert r.scalar is not None and 0.0 <= r.scalar <= 100.0
        else:
            assert r.raw is None and r.scalar is None
    assert report.unified is None or 0.0 <= report.unified <= 100.0
    assert report.passed == (not report.failed)

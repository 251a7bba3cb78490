"""Exposure and local-contrast correction of dark regions before detection (laneface.detection.enhance)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from laneface.config import EnhanceSettings, LaneSettings
from laneface.detection.enhance import EnhancingDetector, enhance_dark, mean_luma
from laneface.detection.regions import detect_in_regions
from laneface.types import FaceDetections


def _dark_face_patch(level: int = 30, contrast: int = 6) -> npt.NDArray[np.uint8]:
    """A dark, noisy 96x96 grey image with a slightly brighter square (a face behind tinted glass)."""
    noise = np.random.default_rng(0).normal(0.0, 2.0, (96, 96, 1))
    img = np.full((96, 96, 1), float(level)) + noise
    img[32:64, 32:64] += contrast
    return np.clip(img, 0, 255).astype(np.uint8).repeat(3, axis=2)


class ContrastDetector:
    """Fake detector: finds the central square when it stands out from its surround by ``min_step`` grey levels
    and the image is not too dark (a detector trained on lit faces)."""

    name = "contrast"

    def __init__(self, min_step: float = 15.0) -> None:
        self.min_step = min_step
        self.seen: list[float] = []

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        h, w = image_rgb.shape[:2]
        self.seen.append(mean_luma(image_rgb))
        y = image_rgb.astype(np.float32).mean(axis=2)
        inner = y[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean()
        outer = y[: h // 6].mean()
        if inner - outer < self.min_step:
            return FaceDetections.empty(self.name)
        box = np.array([[w / 3, h / 3, 2 * w / 3, 2 * h / 3]])
        lms = np.tile(np.array([[w / 2, h / 2]]), (1, 5, 1))
        return FaceDetections(box, lms, np.ones(1), self.name)


def test_bright_image_is_returned_unchanged_as_the_same_object() -> None:
    img = np.full((40, 50, 3), 150, np.uint8)
    assert enhance_dark(img) is img


def test_dark_image_is_brightened_and_its_contrast_stretched() -> None:
    img = _dark_face_patch()
    out = enhance_dark(img)
    assert out is not img and out.shape == img.shape and out.dtype == np.uint8
    assert mean_luma(out) > mean_luma(img) + 30
    step_before = float(img[36:60, 36:60].mean()) - float(img[:16].mean())
    step_after = float(out[36:60, 36:60].mean()) - float(out[:16].mean())
    assert step_after > 2.5 * step_before
    assert np.array_equal(img, _dark_face_patch())  # the input is not modified


def test_gray_stays_gray_and_hue_is_kept() -> None:
    gray = _dark_face_patch()
    out = enhance_dark(gray)
    assert np.abs(out.astype(int) - out[..., :1].astype(int)).max() <= 2  # infrared frames stay grey
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 60
    red[..., 1:] = 20
    r = enhance_dark(red).astype(int)
    assert (r[..., 0] > r[..., 1]).all() and (r[..., 0] > r[..., 2]).all()


def test_threshold_and_gamma_only_settings() -> None:
    img = _dark_face_patch(level=70)
    assert enhance_dark(img, EnhanceSettings(below_mean=60.0)) is img
    gamma_only = enhance_dark(img, EnhanceSettings(below_mean=100.0, clip_limit=0.0))
    # a gamma curve is monotone: the ordering of grey levels is kept and the mean moves towards the target
    assert gamma_only[36:60, 36:60].mean() > gamma_only[:16].mean() + 5
    assert 90 <= mean_luma(gamma_only) <= 115


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        enhance_dark(np.zeros((10, 10, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        enhance_dark(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValidationError):
        EnhanceSettings(clip_limit=-1.0)
    tiny = np.zeros((1, 5, 3), np.uint8)
    assert enhance_dark(tiny) is tiny


def test_mean_luma() -> None:
    assert mean_luma(np.zeros((0, 0, 3), np.uint8)) == 0.0
    assert mean_luma(np.full((300, 400, 3), 100, np.uint8)) == pytest.approx(100.0, abs=0.01)


def test_enhancing_detector_finds_the_dark_face_the_plain_one_misses() -> None:
    img = _dark_face_patch()
    plain = ContrastDetector()
    assert len(plain.detect(img)) == 0
    wrapped = EnhancingDetector(ContrastDetector())
    found = wrapped.detect(img)
    assert len(found) == 1 and wrapped.name == "contrast"
    np.testing.assert_allclose(found.boxes_xyxy[0], [32, 32, 64, 64])


def test_each_region_is_corrected_on_its_own_brightness() -> None:
    scene = np.full((96, 288, 3), 200, np.uint8)  # a lit scene with one dark window
    scene[:, 96:192] = _dark_face_patch()
    inner = ContrastDetector()
    found = detect_in_regions(EnhancingDetector(inner), scene, [[96, 0, 192, 96], [0, 0, 96, 96]], cut_faces="keep")
    assert len(found) == 1
    np.testing.assert_allclose(found.boxes_xyxy[0], [128, 32, 160, 64])
    assert inner.seen[0] > 60 and inner.seen[1] == pytest.approx(200.0)  # the dark one was lifted, the lit one not


def test_lane_settings_carry_the_enhancement() -> None:
    lane = LaneSettings.model_validate({"enhance": {"below_mean": 50}})
    assert lane.enhance.below_mean == 50 and lane.enhance.clip_limit == EnhanceSettings().clip_limit
    with pytest.raises(ValidationError):
        LaneSettings.model_validate({"enhance": {"nope": 1}})

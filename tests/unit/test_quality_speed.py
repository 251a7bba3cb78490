"""time_quality: per-face totals, each measure's share, input errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from laneface.evaluation.quality_speed import time_quality
from laneface.quality import FaceSample, MeasureResult, Profile, QualityAssessor
from laneface.quality.template import QUALITY_128
from laneface.types import FaceDetections


class Busy:
    """A measure that burns ``ms`` milliseconds of CPU."""

    def __init__(self, name: str, ms: float) -> None:
        self.name = name
        self.ms = ms

    def measure(self, sample: FaceSample) -> MeasureResult:
        end = time.thread_time() + self.ms / 1000.0
        x = 0
        while time.thread_time() < end:
            x += 1
        return MeasureResult.ok(self.name, 1.0)


def _face() -> tuple[np.ndarray, FaceDetections, int]:
    lms = (QUALITY_128.as_array() + 40.0)[None].astype(np.float32)
    dets = FaceDetections(np.array([[30, 20, 170, 180]], np.float32), lms, np.array([0.9], np.float32), "fake")
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    return image, dets, 0


def _assessor(*measures: Busy) -> QualityAssessor:
    return QualityAssessor(list(measures), {}, Profile("none", ()))


def test_each_measure_is_charged_its_own_time_and_the_total_covers_them_all() -> None:
    result = time_quality(_assessor(Busy("slow", 4.0), Busy("fast", 0.5)), [_face()] * 3, repeats=2)
    assert result.faces == 3 and result.repeats == 2
    assert list(result.measure_ms_mean) == ["slow", "fast"]
    assert result.measure_ms_mean["slow"] == pytest.approx(4.0, abs=1.0)
    assert result.measure_ms_mean["fast"] == pytest.approx(0.5, abs=0.4)
    assert result.total_ms_mean >= 4.5
    assert result.total_ms_p50 <= result.total_ms_p99
    assert result.as_json()["measure_ms_mean"] == result.measure_ms_mean


def test_no_faces_or_no_repeats_is_an_error() -> None:
    with pytest.raises(ValueError, match="no faces"):
        time_quality(_assessor(Busy("a", 0.0)), [])
    with pytest.raises(ValueError, match="repeats"):
        time_quality(_assessor(Busy("a", 0.0)), [_face()], repeats=0)

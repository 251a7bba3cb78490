"""QualityAssessor: one report per face, mapping, unified score, configuration errors, public API."""

from __future__ import annotations

import numpy as np
import pytest

import laneface.quality as quality
from laneface.errors import ConfigError
from laneface.quality import (
    FaceSample,
    MeasureResult,
    Profile,
    QualityAssessor,
    QualityMeasure,
    Requirement,
    SigmoidMapping,
    default_measures,
    load_quality_config,
    load_unified_model,
)
from laneface.quality.template import QUALITY_128
from laneface.types import FaceDetections


class Constant:
    """A measure whose raw value is fixed (or a failure when ``value`` is None)."""

    def __init__(self, name: str, value: float | None) -> None:
        self.name = name
        self.value = value
        self.calls = 0

    def measure(self, sample: FaceSample) -> MeasureResult:
        self.calls += 1
        if self.value is None:
            return MeasureResult.failure(self.name, "cannot")
        return MeasureResult.ok(self.name, self.value)


def _detections(n: int) -> FaceDetections:
    base = QUALITY_128.as_array() + 40.0
    lms = np.stack([base + 150.0 * i for i in range(n)]).astype(np.float32)
    boxes = np.array([[30 + 150 * i, 20 + 150 * i, 170 + 150 * i, 180 + 150 * i] for i in range(n)], np.float32)
    return FaceDetections(boxes, lms, np.full((n,), 0.9, np.float32), "fake")


def _image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def test_public_api_is_pinned() -> None:
    assert sorted(quality.__all__) == sorted(
        [
            "QUALITY_128",
            "FaceSample",
            "HeadPose",
            "MeasureResult",
            "MeasureStatus",
            "Profile",
            "QualityAssessor",
            "QualityConfig",
            "QualityMeasure",
            "QualityReport",
            "Requirement",
            "SigmoidMapping",
            "UnifiedQualityModel",
            "default_measures",
            "estimate_head_pose",
            "load_mappings",
            "load_profiles",
            "load_quality_config",
            "load_unified_model",
        ]
    )
    assert all(isinstance(m, QualityMeasure) for m in default_measures())
    names = [m.name for m in default_measures()]
    assert len(names) == len(set(names)) == 15
    assert set(load_unified_model().measures) <= set(names)


def test_one_report_per_face_in_detection_order() -> None:
    assessor = QualityAssessor.from_config("lenient")
    reports = assessor.assess(_image(), _detections(3))
    assert len(reports) == 3
    assert [round(r.measures["inter_eye_distance"].raw or 0) for r in reports] == [32, 32, 32]
    assert all(r.profile == "lenient" for r in reports)
    assert assessor.assess(_image(), FaceDetections.empty()) == []


def test_scalars_come_from_the_mappings() -> None:
    a, b, c = Constant("a", 1.0), Constant("b", 0.0), Constant("c", None)
    mappings = {"a": SigmoidMapping(x0=0.0, w=1e-3), "b": SigmoidMapping(x0=1.0, w=0.5), "c": SigmoidMapping(x0=0, w=1)}
    profile = Profile("p", (Requirement("a", min=0.5),))
    assessor = QualityAssessor([a, b, c], mappings, profile)
    report = assessor.assess_one(FaceSample.from_detection(_image(), _detections(1), 0))
    assert report.measures["a"].scalar == 100.0
    assert report.measures["b"].scalar == 12.0
    assert report.measures["c"].scalar is None and report.measures["c"].status == "failure_to_assess"
    assert report.unified is None  # no unified model given (tests/unit/test_unified_edc.py covers the model)
    assert report.passed and report.failed == ()
    assert a.calls == b.calls == c.calls == 1


def test_unified_is_none_without_a_unified_model() -> None:
    m = Constant("x", None)
    assessor = QualityAssessor([m], {}, Profile("p", (Requirement("x", max=1),)))
    report = assessor.assess_one(FaceSample.from_detection(_image(), _detections(1), 0))
    assert report.unified is None
    assert not report.passed and report.failed[0].startswith("x <= 1 (failure to assess")


def test_report_as_dict_is_json_ready() -> None:
    import json

    report = QualityAssessor.from_config("document").assess(_image(), _detections(1))[0]
    d = report.as_dict()
    assert {"unified", "passed", "failed", "profile", "measures"} <= set(d)
    assert set(d["measures"]["yaw"]) >= {"raw", "scalar", "status", "detail"}  # type: ignore[index]
    json.dumps(d)
    assert any(f.startswith("inter_eye_distance >= 90 (got 32") for f in report.failed)


@pytest.mark.parametrize(
    ("measures", "mappings", "requirement"),
    [
        (["a", "a"], {}, Requirement("a", min=0)),
        (["a"], {}, Requirement("b", min=0)),
        (["a"], {}, Requirement("a", on="scalar", min=0)),
    ],
)
def test_inconsistent_configuration_is_a_config_error(
    measures: list[str], mappings: dict[str, SigmoidMapping], requirement: Requirement
) -> None:
    with pytest.raises(ConfigError):
        QualityAssessor([Constant(n, 1.0) for n in measures], mappings, Profile("p", (requirement,)))


def test_shipped_profiles_only_use_builtin_measures() -> None:
    config = load_quality_config()
    for name in config.profiles:
        QualityAssessor(default_measures(), config.mappings, config.profile(name))
    with pytest.raises(ConfigError, match="unknown quality profile"):
        QualityAssessor.from_config("nope")

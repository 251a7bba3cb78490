"""The built-in quality measures, one module per measure (family). :func:`default_measures` lists them."""

from __future__ import annotations

from laneface.quality.base import QualityMeasure
from laneface.quality.measures.blockiness import BlockinessMeasure
from laneface.quality.measures.confidence import DetectionConfidenceMeasure
from laneface.quality.measures.dynamic_range import DynamicRangeMeasure
from laneface.quality.measures.exposure import ExposureMeasure, OverExposureMeasure, UnderExposureMeasure
from laneface.quality.measures.eyes import EyesVisibleMeasure
from laneface.quality.measures.geometry import FaceSizeMeasure, InterEyeDistanceMeasure
from laneface.quality.measures.occlusion import LowerFaceOcclusionMeasure
from laneface.quality.measures.pose import PitchMeasure, RollMeasure, YawMeasure
from laneface.quality.measures.sharpness import SharpnessMeasure
from laneface.quality.measures.uniformity import IlluminationUniformityMeasure

__all__ = [
    "BlockinessMeasure",
    "DetectionConfidenceMeasure",
    "DynamicRangeMeasure",
    "ExposureMeasure",
    "EyesVisibleMeasure",
    "FaceSizeMeasure",
    "IlluminationUniformityMeasure",
    "InterEyeDistanceMeasure",
    "LowerFaceOcclusionMeasure",
    "OverExposureMeasure",
    "PitchMeasure",
    "RollMeasure",
    "SharpnessMeasure",
    "UnderExposureMeasure",
    "YawMeasure",
    "default_measures",
]


def default_measures() -> list[QualityMeasure]:
    """A fresh instance of every built-in measure, in report order."""
    return [
        InterEyeDistanceMeasure(),
        FaceSizeMeasure(),
        YawMeasure(),
        PitchMeasure(),
        RollMeasure(),
        SharpnessMeasure(),
        ExposureMeasure(),
        UnderExposureMeasure(),
        OverExposureMeasure(),
        DynamicRangeMeasure(),
        IlluminationUniformityMeasure(),
        EyesVisibleMeasure(),
        LowerFaceOcclusionMeasure(),
        BlockinessMeasure(),
        DetectionConfidenceMeasure(),
    ]

"""Face image quality: measures (raw value, 0-100 scalar, status), validation profiles, the assessor.

Typical use::

    assessor = QualityAssessor.from_config("vehicle")
    reports = assessor.assess(image_rgb, detector.detect(image_rgb))
    reports[0].passed, reports[0].failed, reports[0].measures["yaw"].raw
    reports[0].unified  # 0-100: predicted chance that the face matches its reference (quality/unified.py)
"""

from __future__ import annotations

from laneface.quality.assessor import QualityAssessor
from laneface.quality.base import FaceSample, MeasureResult, MeasureStatus, QualityMeasure, QualityReport
from laneface.quality.headpose import HeadPose, estimate_head_pose
from laneface.quality.mapping import SigmoidMapping
from laneface.quality.measures import default_measures
from laneface.quality.profiles import (
    Profile,
    QualityConfig,
    Requirement,
    load_mappings,
    load_profiles,
    load_quality_config,
)
from laneface.quality.template import QUALITY_128
from laneface.quality.unified import UnifiedQualityModel, load_unified_model

__all__ = [
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

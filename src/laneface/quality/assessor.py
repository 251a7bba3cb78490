"""QualityAssessor: every measure of every detected face, mapped to scalars and judged by one profile."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.errors import ConfigError
from laneface.quality.base import FaceSample, MeasureResult, QualityMeasure, QualityReport
from laneface.quality.mapping import SigmoidMapping
from laneface.quality.profiles import Profile, load_quality_config
from laneface.types import FaceDetections

__all__ = ["UNIFIED_PLACEHOLDER_MEASURES", "QualityAssessor"]

#: PLACEHOLDER until the unified quality model exists: ``QualityReport.unified`` is the mean of the
#: scalars of these measures that were assessed and mapped (``None`` when there is none). Chosen as the
#: components that most affect face recognition: resolution, pose, focus, exposure, eyes and mouth.
UNIFIED_PLACEHOLDER_MEASURES: tuple[str, ...] = (
    "inter_eye_distance",
    "yaw",
    "pitch",
    "sharpness",
    "exposure",
    "illumination_uniformity",
    "eyes_visible",
    "lower_face_occlusion",
)


class QualityAssessor:
    """Runs ``measures`` on each face, maps raw values with ``mappings`` and checks ``profile``.

    Raises :class:`~laneface.errors.ConfigError` when two measures share a name, or when the profile
    needs a measure that is not in ``measures`` or a scalar without a mapping. Measures without a
    mapping keep ``scalar = None``.
    """

    def __init__(
        self,
        measures: Sequence[QualityMeasure],
        mappings: Mapping[str, SigmoidMapping],
        profile: Profile,
        *,
        unified_measures: Sequence[str] = UNIFIED_PLACEHOLDER_MEASURES,
    ) -> None:
        names = [m.name for m in measures]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"quality measures with the same name: {', '.join(duplicates)}")
        for req in profile.requirements:
            if req.measure not in names:
                raise ConfigError(
                    f"profile {profile.name!r} needs measure {req.measure!r}, which is not assessed; "
                    f"known: {', '.join(names)}"
                )
            if req.on == "scalar" and req.measure not in mappings:
                raise ConfigError(f"profile {profile.name!r} needs the scalar of {req.measure!r}, which has no mapping")
        self.measures: tuple[QualityMeasure, ...] = tuple(measures)
        self.mappings: dict[str, SigmoidMapping] = dict(mappings)
        self.profile = profile
        self.unified_measures = tuple(unified_measures)

    @classmethod
    def from_config(cls, profile: str = "vehicle", user_file: Path | None = None) -> QualityAssessor:
        """Every built-in measure with the shipped (plus ``user_file``) mappings and the named profile."""
        from laneface.quality.measures import default_measures

        config = load_quality_config(user_file)
        return cls(default_measures(), config.mappings, config.profile(profile))

    def assess(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[QualityReport]:
        """One report per detected face, in detection order (an empty list when there is no face)."""
        return [self.assess_one(FaceSample.from_detection(image_rgb, detections, i)) for i in range(len(detections))]

    def assess_one(self, sample: FaceSample) -> QualityReport:
        """The report of one face sample."""
        results: dict[str, MeasureResult] = {}
        for m in self.measures:
            result = m.measure(sample)
            mapping = self.mappings.get(m.name)
            if result.status == "ok" and result.raw is not None and mapping is not None:
                result = dataclasses.replace(result, scalar=mapping(result.raw))
            results[m.name] = result
        failed = self.profile.evaluate(results)
        return QualityReport(results, self._unified(results), self.profile.name, not failed, failed)

    def _unified(self, results: Mapping[str, MeasureResult]) -> float | None:
        scalars = [
            r.scalar for n in self.unified_measures if (r := results.get(n)) is not None and r.scalar is not None
        ]
        if not scalars:
            return None
        value = sum(scalars) / len(scalars)
        return round(value, 1) if math.isfinite(value) else None

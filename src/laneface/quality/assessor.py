"""QualityAssessor: every measure of every detected face, mapped to scalars, judged by one profile and given
the unified quality score (0-100) of :mod:`laneface.quality.unified`."""

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
from laneface.quality.unified import UnifiedQualityModel, load_unified_model
from laneface.types import FaceDetections

__all__ = ["QualityAssessor"]


class QualityAssessor:
    """Runs ``measures`` on each face, maps raw values with ``mappings``, checks ``profile`` and scores
    the face with ``unified_model``.

    Raises :class:`~laneface.errors.ConfigError` when two measures share a name, when the profile needs
    a measure that is not in ``measures`` or a scalar without a mapping, or when ``unified_model`` reads a
    measure that is not in ``measures``. Measures without a mapping keep ``scalar = None``; without a
    unified model, ``QualityReport.unified`` is ``None``.
    """

    def __init__(
        self,
        measures: Sequence[QualityMeasure],
        mappings: Mapping[str, SigmoidMapping],
        profile: Profile,
        *,
        unified_model: UnifiedQualityModel | None = None,
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
        if unified_model is not None:
            missing = [m for m in unified_model.measures if m not in names]
            if missing:
                raise ConfigError(
                    f"unified quality model {unified_model.version!r} reads measures that are not assessed: "
                    f"{', '.join(missing)}"
                )
        self.measures: tuple[QualityMeasure, ...] = tuple(measures)
        self.mappings: dict[str, SigmoidMapping] = dict(mappings)
        self.profile = profile
        self.unified_model = unified_model

    @classmethod
    def from_config(
        cls, profile: str = "vehicle", user_file: Path | None = None, unified_model_file: Path | None = None
    ) -> QualityAssessor:
        """Every built-in measure with the shipped (plus ``user_file``) mappings, the named profile and the
        shipped unified model (or the one in ``unified_model_file``, e.g. refitted by ``laneface bench
        quality --fit-out FILE``)."""
        from laneface.quality.measures import default_measures

        config = load_quality_config(user_file)
        return cls(
            default_measures(),
            config.mappings,
            config.profile(profile),
            unified_model=load_unified_model(unified_model_file),
        )

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
        if self.unified_model is None:
            return None
        value = self.unified_model.unified(results)
        return round(value, 1) if value is not None and math.isfinite(value) else None

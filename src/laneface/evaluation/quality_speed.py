"""Speed of the quality measures: milliseconds per face on one thread.

A face costs :meth:`FaceSample.from_detection <laneface.quality.base.FaceSample.from_detection>` (the
aligned 128x128 quality crop) plus every measure, whose shared derived values (grey levels, Lab, the
face-region histograms, the head pose) are computed on first use and kept on the sample. The time of a
measure is therefore the time it adds after the measures before it, in report order; the total is what
:meth:`QualityAssessor.assess_one <laneface.quality.assessor.QualityAssessor.assess_one>` plus the sample
cost, the figure that matters.

Times are thread CPU time (``time.thread_time``), which leaves out the time the thread waited for a core on
a loaded machine; wall-clock figures are reported beside them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from laneface.quality.assessor import QualityAssessor
from laneface.quality.base import FaceSample
from laneface.types import FaceDetections

__all__ = ["QualitySpeedResult", "time_quality"]


@dataclass(frozen=True)
class QualitySpeedResult:
    faces: int
    repeats: int
    total_ms_mean: float  # CPU ms per face: sample + all measures + mapping, profile and unified score
    total_ms_p50: float
    total_ms_p99: float
    wall_ms_mean: float
    sample_ms_mean: float  # building the FaceSample (aligned crop)
    measure_ms_mean: dict[str, float]  # CPU ms each measure adds, in report order

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def time_quality(
    assessor: QualityAssessor,
    faces: Sequence[tuple[npt.NDArray[np.uint8], FaceDetections, int]],
    *,
    repeats: int = 3,
) -> QualitySpeedResult:
    """Time ``assessor`` on each (image, detections, index) face, ``repeats`` times (the first run of each
    face warms caches and is counted like the others). Raises ``ValueError`` on an empty face list."""
    if not faces:
        raise ValueError("no faces to time")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    totals: list[float] = []
    walls: list[float] = []
    samples: list[float] = []
    per_measure: dict[str, list[float]] = {m.name: [] for m in assessor.measures}
    for _ in range(repeats):
        for image, dets, i in faces:
            # the figure that counts: sample + assess_one (every measure, mapping, profile, unified score)
            w0 = time.perf_counter()
            t0 = time.thread_time()
            assessor.assess_one(FaceSample.from_detection(image, dets, i))
            totals.append(time.thread_time() - t0)
            walls.append(time.perf_counter() - w0)
            # the breakdown, on a fresh sample so that shared values are computed again
            t0 = time.thread_time()
            sample = FaceSample.from_detection(image, dets, i)
            prev = time.thread_time()
            samples.append(prev - t0)
            for m in assessor.measures:
                m.measure(sample)
                now = time.thread_time()
                per_measure[m.name].append(now - prev)
                prev = now
    tot = np.asarray(totals) * 1000.0
    return QualitySpeedResult(
        faces=len(faces),
        repeats=repeats,
        total_ms_mean=round(float(tot.mean()), 3),
        total_ms_p50=round(float(np.percentile(tot, 50)), 3),
        total_ms_p99=round(float(np.percentile(tot, 99)), 3),
        wall_ms_mean=round(float(np.mean(walls)) * 1000.0, 3),
        sample_ms_mean=round(float(np.mean(samples)) * 1000.0, 3),
        measure_ms_mean={k: round(float(np.mean(v)) * 1000.0, 3) for k, v in per_measure.items()},
    )

"""Head pose measures ``yaw``, ``pitch`` and ``roll`` (degrees; signs in :mod:`laneface.quality.headpose`).

The pose is fitted once per face (:attr:`FaceSample.head_pose`) and shared by the three measures. ``raw`` is
the signed angle; the mappings are two-sided (``center = 0``), so the scalar falls with the absolute angle.
``detail`` holds the fit's RMS residual relative to the face size (large values mean the landmarks do not fit a
face, e.g. a far eye guessed on a profile).
"""

from __future__ import annotations

from laneface.quality.base import FaceSample, MeasureResult

__all__ = ["PitchMeasure", "RollMeasure", "YawMeasure"]


def _pose_result(name: str, sample: FaceSample) -> MeasureResult:
    pose = sample.head_pose
    if pose is None:
        return MeasureResult.failure(name, "landmarks are degenerate or not finite")
    value = {"yaw": pose.yaw, "pitch": pose.pitch, "roll": pose.roll}[name]
    detail = {"fit_rms": pose.rms}
    if name == "roll":
        detail["roll_fit"] = pose.roll_fit
    return MeasureResult.ok(name, value, detail)


class YawMeasure:
    """Yaw: positive when the face turns towards the image's right."""

    name = "yaw"

    def measure(self, sample: FaceSample) -> MeasureResult:
        return _pose_result(self.name, sample)


class PitchMeasure:
    """Pitch: positive when the face looks up."""

    name = "pitch"

    def measure(self, sample: FaceSample) -> MeasureResult:
        return _pose_result(self.name, sample)


class RollMeasure:
    """Roll: angle of the eye line, positive counter-clockwise as displayed."""

    name = "roll"

    def measure(self, sample: FaceSample) -> MeasureResult:
        return _pose_result(self.name, sample)

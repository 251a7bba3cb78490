"""When a simulated face is good enough for a capture: the ground truth's "capturable" (what any pipeline could
see), used by the rig planner here and by ``bench lane`` (:mod:`laneface.evaluation.bench_lane`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CapturableRule"]


@dataclass(frozen=True)
class CapturableRule:
    """When a ground-truth face is good enough for a capture: by default the ``vehicle`` quality profile's
    pose and inter-eye distance limits, on a face mostly in view."""

    min_visible: float = 0.85  # share of the face on top and inside the frame
    min_ied_px: float = 20.0  # the vehicle profile's inter_eye_distance minimum
    max_abs_yaw_deg: float = 30.0  # the vehicle profile's yaw limits
    max_abs_pitch_deg: float = 25.0  # the vehicle profile's pitch limits

    def accepts(self, face: Mapping[str, Any]) -> bool:
        return (
            float(face.get("visible", 0.0)) >= self.min_visible
            and float(face.get("ied_px", 0.0)) >= self.min_ied_px
            and abs(float(face.get("yaw_deg", 180.0))) <= self.max_abs_yaw_deg
            and abs(float(face.get("pitch_deg", 180.0))) <= self.max_abs_pitch_deg
        )

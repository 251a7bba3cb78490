"""Pinhole cameras of the simulated lane.

World frame (metres): ``x`` across the lane, positive towards the vehicle's right-hand (passenger) side; ``y`` up
from the road; ``z`` along the lane, growing away from the front camera (a vehicle drives towards
smaller ``z``). A camera looks from ``position`` at ``target``; image ``u`` grows to the right, ``v`` down.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

__all__ = ["FRAME_H", "FRAME_W", "LookAtCamera", "Rig"]

FRAME_W, FRAME_H = 960, 540


@dataclass(frozen=True)
class LookAtCamera:
    """A pinhole camera at ``position`` looking at ``target`` with focal length ``focal_px``."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    focal_px: float
    width: int = FRAME_W
    height: int = FRAME_H

    @cached_property
    def _rot(self) -> npt.NDArray[np.float64]:
        return self._rotation()

    def rotation(self) -> npt.NDArray[np.float64]:
        """Rows: the camera's right, down and forward axes in world coordinates."""
        return self._rot

    def _rotation(self) -> npt.NDArray[np.float64]:
        """Rows: the camera's right, down and forward axes in world coordinates."""
        forward = np.asarray(self.target, np.float64) - np.asarray(self.position, np.float64)
        forward /= np.linalg.norm(forward)
        down = np.array([0.0, -1.0, 0.0])
        down = down - down.dot(forward) * forward
        down /= np.linalg.norm(down)
        right = np.cross(down, forward)
        return np.stack([right, down, forward])

    def to_camera(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        p = np.asarray(points, np.float64).reshape(-1, 3) - np.asarray(self.position, np.float64)
        return np.asarray(p @ self.rotation().T, dtype=np.float64)

    def project(self, points: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Pixel coordinates (N, 2) and depth along the optical axis (N,) of world points."""
        pc = self.to_camera(points)
        depth = pc[:, 2]
        safe = np.where(depth > 1e-3, depth, 1e-3)
        uv = np.stack(
            [self.width / 2 + self.focal_px * pc[:, 0] / safe, self.height / 2 + self.focal_px * pc[:, 1] / safe],
            axis=1,
        )
        return uv, depth

    def view_angles(self, point: npt.ArrayLike, facing: npt.ArrayLike) -> tuple[float, float]:
        """Yaw and pitch (degrees, README convention) at which a face at ``point`` facing ``facing`` is seen."""
        rot = self.rotation()
        to_cam = np.asarray(self.position, np.float64) - np.asarray(point, np.float64)
        to_cam /= np.linalg.norm(to_cam)
        f = np.asarray(facing, np.float64)
        f /= np.linalg.norm(f)
        # the face's forward direction and the direction to the camera, both in camera coordinates
        fc, tc = rot @ f, rot @ to_cam
        yaw = np.degrees(np.arctan2(fc[0], -fc[2]) - np.arctan2(tc[0], -tc[2]))
        pitch = np.degrees(np.arcsin(min(1.0, max(-1.0, -fc[1]))) - np.arcsin(min(1.0, max(-1.0, -tc[1]))))
        return float(yaw), float(pitch)


@dataclass(frozen=True)
class Rig:
    """Where the lane's cameras stand and what they resolve, relative to the standard rig.

    ``distance_scale`` moves each camera along its line of sight (its aim point stays), so faces keep their
    view angles and shrink by about that factor; ``raise_m`` lifts every camera (aim points stay);
    ``size`` is the sensor's resolution, with the focal length scaled to keep the field of view."""

    distance_scale: float = 1.0
    raise_m: float = 0.0
    size: tuple[int, int] = (FRAME_W, FRAME_H)

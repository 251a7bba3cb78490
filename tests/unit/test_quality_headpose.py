"""Head pose from 5 landmarks: known rotations of the 3D model, sign conventions, degenerate input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.quality.headpose import FACE_MODEL_3D, estimate_head_pose
from laneface.quality.template import QUALITY_128


def _rot(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation for the documented conventions (degrees): yaw>0 nose right, pitch>0 up, roll>0 CCW."""
    # camera axes: x right, y down, z away; the model's internal angles have the opposite signs
    y, p, r = (math.radians(-a) for a in (yaw, pitch, roll))
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return rz @ ry @ rx


def _project(yaw: float, pitch: float, roll: float, scale: float = 2.0) -> np.ndarray:
    pts = np.asarray(FACE_MODEL_3D) @ _rot(yaw, pitch, roll).T
    return pts[:, :2] * scale + np.array([300.0, 200.0])


def test_frontal_template_is_zero_pose() -> None:
    pose = estimate_head_pose(QUALITY_128.as_array())
    assert pose is not None
    assert pose.yaw == pytest.approx(0, abs=0.5)
    assert pose.pitch == pytest.approx(0, abs=0.5)
    assert pose.roll == pytest.approx(0, abs=1e-6)
    assert pose.rms < 0.01


@given(yaw=st.floats(-50, 50), pitch=st.floats(-35, 35), roll=st.floats(-60, 60), scale=st.floats(0.2, 5.0))
@settings(max_examples=60, deadline=None)
def test_recovers_known_rotations(yaw: float, pitch: float, roll: float, scale: float) -> None:
    pose = estimate_head_pose(_project(yaw, pitch, roll, scale))
    assert pose is not None
    assert pose.yaw == pytest.approx(yaw, abs=0.5)
    assert pose.pitch == pytest.approx(pitch, abs=0.5)
    assert pose.roll_fit == pytest.approx(roll, abs=0.5)


def test_sign_conventions_in_image_terms() -> None:
    frontal = QUALITY_128.as_array()
    nose_right = frontal.copy()
    nose_right[2, 0] += 6.0
    nose_up = frontal.copy()
    nose_up[2, 1] -= 4.0
    ccw = frontal.copy()
    ccw[1, 1] -= 5.0  # the eye on the image's right is higher
    assert estimate_head_pose(nose_right).yaw > 5  # type: ignore[union-attr]
    assert estimate_head_pose(nose_up).pitch > 5  # type: ignore[union-attr]
    assert estimate_head_pose(ccw).roll > 5  # type: ignore[union-attr]


def test_noise_changes_the_estimate_smoothly() -> None:
    rng = np.random.default_rng(7)
    pts = _project(20, -10, 5, scale=1.0)  # ~63 px between the eyes
    errors = []
    for _ in range(50):
        pose = estimate_head_pose(pts + rng.normal(0, 1.0, pts.shape))
        assert pose is not None
        errors.append((pose.yaw - 20, pose.pitch + 10))
    rms = np.sqrt(np.mean(np.square(errors), axis=0))
    assert rms[0] < 3.0 and rms[1] < 3.0


@pytest.mark.parametrize(
    "points",
    [np.full((5, 2), 10.0), np.full((5, 2), np.nan), np.zeros((4, 2))],
)
def test_degenerate_landmarks_give_none(points: np.ndarray) -> None:
    assert estimate_head_pose(points) is None

"""Head pose (yaw, pitch, roll in degrees) from the 5 landmarks.

**Sign conventions** (looking at the image):

* ``yaw > 0``: the face is turned towards the image's right (the nose points right; the subject turns to
  their own left); ``yaw < 0``: turned towards the image's left;
* ``pitch > 0``: the face looks up (chin raised); ``pitch < 0``: it looks down;
* ``roll > 0``: the head is tilted counter-clockwise as displayed (the same sense as a positive angle of
  ``cv2.getRotationMatrix2D`` or ``PIL.Image.rotate``): the eye on the image's right is higher.

Method: a scaled-orthographic (weak-perspective) camera is fitted to a mean 3D 5-point face by
Levenberg-Marquardt (``cv2.solvePnP`` with a 10,000 px focal length and the face far away, which is
orthographic to within 0.1 %). A weak-perspective camera needs no intrinsics, which a crop or a lane camera
rarely gives us, and is exact enough for a face a metre or more from the camera. ``roll`` is the angle of
the eye line (robust, in-plane); the fitted rotation gives ``yaw`` and ``pitch`` (Tait-Bryan, roll applied
last). With only 5 points, pitch is the weakest angle: it rests on where the detector puts the nose tip
between the eyes and the mouth, which detectors trained on near-frontal faces bias towards frontal.
Every angle is only as good as the landmarks: YuNet 2023mar's follow only about a third of an in-plane
rotation of the image (10 degrees read as ~3), while SCRFD's and RetinaFace's follow it.

The 3D model (millimetres; x to the image's right, y down, z away from the camera; origin at the nose
tip): its frontal projection is the mean YuNet landmark layout on LFW (the :data:`QUALITY_128` template
scaled to 63 mm between the eyes), so the mean LFW face is yaw 0, pitch 0 by construction. Depth: eye
centres and mouth corners 30 mm behind the nose tip, rounded from the MediaPipe canonical face model
(mouth corners 32 mm, eye corners 34-43 mm behind the tip; the pupils lie a few mm in front of the eye
corners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FACE_MODEL_3D", "HeadPose", "estimate_head_pose"]

_IED_MM = 63.0
#: 5-point mean 3D face (mm), landmark order of :mod:`laneface.types`.
FACE_MODEL_3D: tuple[tuple[float, float, float], ...] = (
    (-31.5, -35.3, 30.0),
    (31.5, -35.3, 30.0),
    (0.0, 0.0, 0.0),
    (-26.8, 27.7, 30.0),
    (26.8, 27.7, 30.0),
)
_FOCAL = 1.0e4
_NORM_SIZE = 100.0


@dataclass(frozen=True)
class HeadPose:
    """Angles in degrees (conventions in the module docstring) and the fit's RMS residual relative to the
    face size (the larger of the eye distance and the eye-to-mouth distance)."""

    yaw: float
    pitch: float
    roll: float
    roll_fit: float
    rms: float


def estimate_head_pose(landmarks_xy: npt.ArrayLike) -> HeadPose | None:
    """Fit the mean 3D face to 5 landmarks; ``None`` when they are not finite or degenerate."""
    import cv2

    lm = np.asarray(landmarks_xy, dtype=np.float64).reshape(-1, 2)
    if lm.shape != (5, 2) or not np.isfinite(lm).all():
        return None
    eye_vec = lm[1] - lm[0]
    ied = float(np.hypot(eye_vec[0], eye_vec[1]))
    mouth_mid = (lm[3] + lm[4]) / 2
    eye_mid = (lm[0] + lm[1]) / 2
    size = max(ied, float(np.hypot(*(mouth_mid - eye_mid))))
    if size < 1.0:
        return None
    roll = -math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    model = np.asarray(FACE_MODEL_3D, dtype=np.float64)
    model = model - model.mean(axis=0)
    # orthographic: normalising the scale changes no angle, and keeps the solver's pixel tolerances meaningful
    points = ((lm - lm.mean(axis=0)) * (_NORM_SIZE / size)).reshape(-1, 1, 2)
    camera = np.array([[_FOCAL, 0.0, 0.0], [0.0, _FOCAL, 0.0], [0.0, 0.0, 1.0]])
    rvec = np.array([[0.0], [0.0], [math.radians(-roll)]])
    tvec = np.array([[0.0], [0.0], [_FOCAL * _IED_MM / _NORM_SIZE]])
    ok, rvec, tvec = cv2.solvePnP(
        model, points, camera, None, rvec=rvec, tvec=tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok or not (np.isfinite(rvec).all() and np.isfinite(tvec).all()):
        return None
    rot, _ = cv2.Rodrigues(rvec)
    projected, _ = cv2.projectPoints(model, rvec, tvec, camera, None)
    rms = float(np.sqrt(((projected.reshape(-1, 2) - points.reshape(-1, 2)) ** 2).sum(axis=1).mean())) / _NORM_SIZE
    yaw = -math.degrees(math.asin(max(-1.0, min(1.0, -float(rot[2, 0])))))
    pitch = -math.degrees(math.atan2(float(rot[2, 1]), float(rot[2, 2])))
    roll_fit = -math.degrees(math.atan2(float(rot[1, 0]), float(rot[0, 0])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, roll_fit=roll_fit, rms=rms)

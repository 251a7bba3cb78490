"""Seeded synthetic degradations of a face image, for fitting and testing the unified quality score.

Every degradation has the signature ``f(image_rgb, rng, severity, landmarks_xy) -> (image_rgb, info)``:
``severity`` runs from 0 (mildest) to 1 (harshest), ``landmarks_xy`` are the 5 face landmarks of the
input (order of :mod:`laneface.types`; they place the occluders and set the pixel scale), ``info`` is a
JSON-ready dict naming the degradation and the parameters drawn. The input is never modified.

========================  ==========================================================================
``downscale``             to an inter-eye distance (IED) of 40 px (s=0) down to 8 px (s=1, log scale),
                          area interpolation; half the time scaled back up to the input size (bilinear:
                          a digital zoom), otherwise kept small (the detector sees the small image)
``gaussian_blur``         sigma = IED x (0.005 + 0.075 s) px (out of focus)
``motion_blur``           a line kernel of IED x (0.05 + 0.35 s) px at a random angle
``noise``                 additive Gaussian noise, sigma 4 + 36 s grey levels, independent per channel
``exposure``              under (gain 1 - 0.85 s, gamma 1 + 1.2 s) or over (gain 1 + 2.5 s, gamma
                          1 / (1 + s)) exposure, clipped to 8 bits
``occlusion``             a flat or textured occluder: sunglasses (two dark lenses, radius IED x (0.28 +
                          0.17 s)), a mask (from the chin up to between mouth and nose, s=0, or the
                          eyes' level, s=1) or a hand-like block at a random place (side IED x (0.5 + s))
``pose``                  a yaw-like turn: the image plane rotated about the vertical axis through the
                          face (10 + 55 s degrees, pinhole projection, which squeezes and foreshortens
                          one side) and an in-plane rotation of up to 10 + 30 s degrees
``jpeg``                  JPEG compression at quality 40 - 35 s
========================  ==========================================================================

:func:`random_degradation` draws from a :class:`DegradationMix`: no degradation for a share of faces
(``none``), one degradation, or two different ones, applied in the order of :data:`DEGRADATIONS`
(geometry, then optics, then sensor, then compression). By default a quarter of the faces stay clean and
15 % get two degradations. Each severity is ``u ** severity_power`` with ``u`` uniform in [0, 1): with the
default power 2.5, mild degradations are common and harsh ones rare, as in operational captures (median
severity 0.18; above 0.75 for 11 % of degradations). The ranges above were set so that severity 1
defeats a light recognizer (MobileFaceNet) most of the time. The same ``rng`` state gives the same
output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEGRADATIONS",
    "LFW_LANDMARKS_250",
    "DegradationMix",
    "apply_degradation",
    "default_landmarks",
    "random_degradation",
]

RgbImage = npt.NDArray[np.uint8]
Info = dict[str, Any]

#: Median YuNet landmarks of LFW deep-funneled images (250 x 250; 200 images): eyes, nose, mouth corners.
LFW_LANDMARKS_250 = np.array(
    [[104.2, 112.1], [147.9, 111.8], [126.2, 136.6], [108.2, 155.1], [145.8, 154.7]], dtype=np.float64
)


def default_landmarks(image_rgb: RgbImage) -> npt.NDArray[np.float64]:
    """:data:`LFW_LANDMARKS_250` scaled to the image's size (for LFW-like, face-centred images)."""
    h, w = image_rgb.shape[:2]
    return np.asarray(LFW_LANDMARKS_250 * np.array([w / 250.0, h / 250.0]), dtype=np.float64)


def _check(image_rgb: RgbImage, severity: float, landmarks_xy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError("image_rgb must be a (H, W, 3) uint8 array")
    if image_rgb.dtype != np.uint8:
        raise ValueError("image_rgb must be uint8")
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must lie in [0, 1], got {severity!r}")
    lms = np.asarray(landmarks_xy, dtype=np.float64)
    if lms.shape != (5, 2) or not np.isfinite(lms).all():
        raise ValueError("landmarks_xy must be 5 finite (x, y) points")
    return lms


def _ied(lms: npt.NDArray[np.float64]) -> float:
    return max(1.0, float(np.hypot(*(lms[1] - lms[0]))))


def _u8(x: npt.NDArray[np.floating[Any]]) -> RgbImage:
    return np.ascontiguousarray(np.clip(np.rint(x), 0, 255).astype(np.uint8))


def downscale(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    lms = _check(image_rgb, severity, landmarks_xy)
    h, w = image_rgb.shape[:2]
    ied = _ied(lms)
    target = 40.0 * (8.0 / 40.0) ** severity
    scale = min(1.0, target / ied)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
    upsample = bool(rng.random() < 0.5)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if upsample else small
    return np.ascontiguousarray(out), {
        "kind": "downscale",
        "severity": severity,
        "ied_px": round(ied * scale, 2),
        "scale": round(scale, 4),
        "upsampled": upsample,
    }


def gaussian_blur(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    lms = _check(image_rgb, severity, landmarks_xy)
    sigma = _ied(lms) * (0.005 + 0.075 * severity)
    out = cv2.GaussianBlur(image_rgb, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(out), {"kind": "gaussian_blur", "severity": severity, "sigma_px": round(sigma, 3)}


def motion_blur(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    lms = _check(image_rgb, severity, landmarks_xy)
    length = max(2.0, _ied(lms) * (0.05 + 0.35 * severity))
    angle = float(rng.uniform(0.0, 180.0))
    size = math.ceil(length) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(math.radians(angle)) * length / 2, math.sin(math.radians(angle)) * length / 2
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
    kernel /= max(float(kernel.sum()), 1e-6)
    out = cv2.filter2D(image_rgb, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(out), {
        "kind": "motion_blur",
        "severity": severity,
        "length_px": round(length, 2),
        "angle_deg": round(angle, 1),
    }


def noise(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    _check(image_rgb, severity, landmarks_xy)
    sigma = 4.0 + 36.0 * severity
    out = _u8(image_rgb.astype(np.float32) + rng.normal(0.0, sigma, image_rgb.shape).astype(np.float32))
    return out, {"kind": "noise", "severity": severity, "sigma": round(sigma, 2)}


def exposure(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    _check(image_rgb, severity, landmarks_xy)
    under = bool(rng.random() < 0.5)
    if under:
        gain, gamma = 1.0 - 0.85 * severity, 1.0 + 1.2 * severity
    else:
        gain, gamma = 1.0 + 2.5 * severity, 1.0 / (1.0 + severity)
    x = image_rgb.astype(np.float32) / 255.0
    out = _u8(255.0 * gain * np.power(x, gamma))
    return out, {
        "kind": "exposure",
        "severity": severity,
        "direction": "under" if under else "over",
        "gain": round(gain, 3),
        "gamma": round(gamma, 3),
    }


def _fill(rng: np.random.Generator, shape: tuple[int, int], textured: bool, dark: bool) -> npt.NDArray[np.float32]:
    import cv2

    base = rng.uniform(5, 50, 3) if dark else rng.uniform(20, 235, 3)
    patch = np.broadcast_to(base.astype(np.float32), (*shape, 3)).copy()
    if textured:
        small = rng.normal(0.0, 35.0, (max(2, shape[0] // 6), max(2, shape[1] // 6), 3)).astype(np.float32)
        patch += cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return patch


def occlusion(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    lms = _check(image_rgb, severity, landmarks_xy)
    h, w = image_rgb.shape[:2]
    ied = _ied(lms)
    style = str(rng.choice(["sunglasses", "mask", "block"]))
    textured = bool(rng.random() < 0.5)
    mask = np.zeros((h, w), np.uint8)
    info: Info = {"kind": "occlusion", "severity": severity, "style": style, "textured": textured}
    if style == "sunglasses":
        radius = ied * (0.28 + 0.17 * severity)
        for eye in lms[:2]:
            axes = (round(radius * 1.1), round(radius * 0.85))
            cv2.ellipse(mask, (round(eye[0]), round(eye[1])), axes, 0.0, 0.0, 360.0, 255, -1)
        a, b = lms[0], lms[1]
        cv2.line(mask, (round(a[0]), round(a[1])), (round(b[0]), round(b[1])), 255, max(1, round(ied * 0.06)))
        info["radius_px"] = round(radius, 2)
        dark = True
    elif style == "mask":
        eyes_y, nose_y, mouth_y = lms[:2, 1].mean(), lms[2, 1], lms[3:, 1].mean()
        top = (nose_y + mouth_y) / 2 + severity * (eyes_y + 0.25 * (nose_y - eyes_y) - (nose_y + mouth_y) / 2)
        half = ied * 1.15
        cx = lms[:, 0].mean()
        bottom = mouth_y + 1.3 * (mouth_y - eyes_y)
        pts = np.array(
            [[cx - half, top], [cx + half, top], [cx + half * 0.8, bottom], [cx - half * 0.8, bottom]], np.int32
        )
        cv2.fillPoly(mask, [pts], 255)
        info["top_y"] = round(float(top), 1)
        dark = False
    else:
        side = ied * (0.5 + severity)
        centre = lms[2] + rng.uniform(-0.8, 0.8, 2) * ied
        x0, y0 = centre - side / 2
        cv2.rectangle(mask, (round(x0), round(y0)), (round(x0 + side), round(y0 + side)), 255, -1)
        info["side_px"] = round(side, 2)
        info["centre_xy"] = [round(float(v), 1) for v in centre]
        dark = False
    patch = _fill(rng, (h, w), textured, dark)
    sel = mask > 0
    out = image_rgb.astype(np.float32)
    out[sel] = patch[sel]
    info["area_fraction"] = round(float(sel.mean()), 4)
    return _u8(out), info


def pose(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    lms = _check(image_rgb, severity, landmarks_xy)
    h, w = image_rgb.shape[:2]
    yaw = float(rng.choice([-1.0, 1.0])) * (10.0 + 55.0 * severity)
    roll = float(rng.uniform(-1.0, 1.0)) * (10.0 + 30.0 * severity)
    cx, cy = float(lms[:, 0].mean()), float(lms[:, 1].mean())
    f = 1.2 * max(w, h)
    t = math.radians(yaw)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    # the image plane, centred on the face, turned about the vertical axis and seen by a pinhole camera at f
    x, y = corners[:, 0] - cx, corners[:, 1] - cy
    z = f + x * math.sin(t)
    projected = np.stack([f * x * math.cos(t) / z, f * y / z], axis=1)
    r = math.radians(roll)
    rot = np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
    dst = projected @ rot.T + np.array([cx, cy])
    m = cv2.getPerspectiveTransform(corners.astype(np.float32), dst.astype(np.float32))
    out = cv2.warpPerspective(image_rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out), {
        "kind": "pose",
        "severity": severity,
        "yaw_deg": round(yaw, 2),
        "roll_deg": round(roll, 2),
    }


def jpeg(
    image_rgb: RgbImage, rng: np.random.Generator, severity: float, landmarks_xy: npt.ArrayLike
) -> tuple[RgbImage, Info]:
    import cv2

    _check(image_rgb, severity, landmarks_xy)
    quality = round(40 - 35 * severity)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:  # pragma: no cover - OpenCV encodes and decodes any uint8 image
        raise RuntimeError("JPEG round trip failed")
    out = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(out), {"kind": "jpeg", "severity": severity, "quality": quality}


Degradation = Callable[[RgbImage, np.random.Generator, float, npt.ArrayLike], tuple[RgbImage, Info]]

#: Every degradation by name, in the order in which combined ones are applied.
DEGRADATIONS: dict[str, Degradation] = {
    "pose": pose,
    "occlusion": occlusion,
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "downscale": downscale,
    "exposure": exposure,
    "noise": noise,
    "jpeg": jpeg,
}


def apply_degradation(
    name: str,
    image_rgb: RgbImage,
    rng: np.random.Generator,
    severity: float,
    landmarks_xy: npt.ArrayLike | None = None,
) -> tuple[RgbImage, Info]:
    """Apply the degradation ``name`` (a key of :data:`DEGRADATIONS`); landmarks default to the LFW layout."""
    try:
        fn = DEGRADATIONS[name]
    except KeyError:
        raise ValueError(f"unknown degradation {name!r}; known: {', '.join(DEGRADATIONS)}") from None
    lms = default_landmarks(image_rgb) if landmarks_xy is None else landmarks_xy
    return fn(image_rgb, rng, float(severity), lms)


@dataclass(frozen=True)
class DegradationMix:
    """Shares of faces left clean (``none``) or given two different degradations (``double``; the rest get
    one), the kinds drawn from, and the power applied to uniform severities."""

    none: float = 0.25
    double: float = 0.15
    kinds: tuple[str, ...] = tuple(DEGRADATIONS)
    severity_power: float = 2.5

    def __post_init__(self) -> None:
        if not (0.0 <= self.none <= 1.0 and 0.0 <= self.double <= 1.0 and self.none + self.double <= 1.0):
            raise ValueError("none and double must be shares in [0, 1] with none + double <= 1")
        unknown = [k for k in self.kinds if k not in DEGRADATIONS]
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {', '.join(DEGRADATIONS)}; unknown: {unknown}")
        if not (math.isfinite(self.severity_power) and self.severity_power > 0):
            raise ValueError("severity_power must be a positive number")
        if self.double > 0 and len(set(self.kinds)) < 2:
            raise ValueError("double degradations need at least two kinds")


def random_degradation(
    image_rgb: RgbImage,
    rng: np.random.Generator,
    *,
    landmarks_xy: npt.ArrayLike | None = None,
    mix: DegradationMix | None = None,
) -> tuple[RgbImage, Info]:
    """Draw none, one or two degradations with uniform severities and apply them (see the module docstring).

    Returns the image (a copy when nothing is applied) and ``{"kinds": [...], "steps": [info, ...]}``;
    ``kinds`` is ``["none"]`` for a clean face.
    """
    mix = mix or DegradationMix()
    lms = default_landmarks(image_rgb) if landmarks_xy is None else np.asarray(landmarks_xy, np.float64)
    _check(image_rgb, 0.0, lms)
    u = float(rng.random())
    if u < mix.none:
        return image_rgb.copy(), {"kinds": ["none"], "steps": []}
    kinds = sorted(set(mix.kinds), key=list(DEGRADATIONS).index)
    count = 2 if u >= 1.0 - mix.double else 1
    chosen = sorted(rng.choice(len(kinds), size=count, replace=False).tolist())
    out, steps = image_rgb, []
    for i in chosen:
        name = kinds[i]
        severity = float(rng.random()) ** mix.severity_power
        before = out.shape[:2]
        out, info = DEGRADATIONS[name](out, rng, severity, lms)
        if out.shape[:2] != before:  # a kept-small downscale: later steps work on the small image
            lms = lms * np.array([out.shape[1] / before[1], out.shape[0] / before[0]])
        steps.append(info)
    return out, {"kinds": [kinds[i] for i in chosen], "steps": steps}

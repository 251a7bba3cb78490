"""Head sprites cut from LFW deep-funneled images, with sunglasses, hats and hands drawn on, and head pose.

A sprite is the head of a 250x250 LFW deep-funneled image (an ellipse around the funnelled face, whose
eyes sit near (104, 112) and (148, 112)) as RGBA, plus a *face-visible* mask: 1 where the face box shows
the face itself, 0 where a hand or a cap's brim covers it (sunglasses leave the face visible). Head
turns (yaw) wrap the head around a cylinder (:func:`turn_head`); pitch and roll rotate the sprite as a
plane in 3-D and project it (a homography): looking down squeezes the face vertically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FACE_BOX",
    "HEAD_CENTRE",
    "HeadSprite",
    "make_head_sprite",
    "pose_homography",
    "turn_head",
    "turned_face_box",
]

CROP = (45, 20, 205, 232)  # x0, y0, x1, y1 of the head in the 250x250 LFW image
HEAD_CENTRE = (80.0, 100.0)  # centre of the head ellipse in sprite pixels
HEAD_AXES = (60.0, 88.0)
EYES = np.array([[104.0 - CROP[0], 112.4 - CROP[1]], [147.7 - CROP[0], 111.9 - CROP[1]]])
FACE_BOX = (27.0, 62.0, 133.0, 182.0)  # the face (brows to chin) in sprite pixels


@dataclass(frozen=True)
class HeadSprite:
    rgba: npt.NDArray[np.uint8]  # (H, W, 4)
    face_visible: npt.NDArray[np.uint8]  # (H, W) 255 where the face shows
    face_region: npt.NDArray[np.uint8]  # (H, W) 255 on the face box inside the head, covered or not
    eyes: npt.NDArray[np.float64]  # (2, 2) sprite pixels, image-left eye first

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.rgba.shape[:2]
        return w, h


def _ellipse_alpha(w: int, h: int) -> npt.NDArray[np.uint8]:
    import cv2

    alpha = np.zeros((h, w), np.uint8)
    centre = (round(HEAD_CENTRE[0]), round(HEAD_CENTRE[1]))
    cv2.ellipse(alpha, centre, (round(HEAD_AXES[0]), round(HEAD_AXES[1])), 0, 0, 360, 255, -1, cv2.LINE_AA)
    return np.asarray(cv2.GaussianBlur(alpha, (0, 0), 5), dtype=np.uint8)  # hair fades into the cabin


def make_head_sprite(
    lfw_rgb: npt.NDArray[np.uint8],
    *,
    sunglasses: bool,
    hat: bool,
    hand: bool,
    skin_rgb: tuple[int, int, int],
    variant: int,
) -> HeadSprite:
    """Cut the head out of a 250x250 LFW image and draw accessories; ``variant`` picks colours and shapes."""
    import cv2

    if lfw_rgb.shape[:2] != (250, 250):
        lfw_rgb = np.asarray(cv2.resize(lfw_rgb, (250, 250), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    x0, y0, x1, y1 = CROP
    rgb = np.ascontiguousarray(lfw_rgb[y0:y1, x0:x1].copy())
    h, w = rgb.shape[:2]
    alpha = _ellipse_alpha(w, h)
    region = np.zeros((h, w), np.uint8)
    fx0, fy0, fx1, fy1 = (round(v) for v in FACE_BOX)
    region[fy0:fy1, fx0:fx1] = 255
    region[alpha < 128] = 0
    visible = region.copy()
    rng = np.random.default_rng(variant)
    if sunglasses:
        (lx, ly), (rx, ry) = EYES
        frame_col = tuple(int(v) for v in rng.integers(5, 40, size=3))
        for ex, ey in ((lx, ly), (rx, ry)):
            cv2.ellipse(rgb, (round(ex), round(ey + 2)), (20, 13), 0, 0, 360, frame_col, -1, cv2.LINE_AA)
            cv2.ellipse(rgb, (round(ex - 6), round(ey - 3)), (5, 3), 20, 0, 360, (90, 95, 105), -1, cv2.LINE_AA)
        cv2.line(rgb, (round(lx + 18), round(ly)), (round(rx - 18), round(ry)), frame_col, 3, cv2.LINE_AA)
    if hat:
        colour = tuple(int(v) for v in rng.integers(10, 200, size=3))
        cv2.ellipse(rgb, (80, 52), (64, 48), 0, 180, 360, colour, -1, cv2.LINE_AA)
        cv2.rectangle(rgb, (16, 50), (144, 60), colour, -1)
        brim = (80, 62 + int(rng.integers(0, 8)))
        cv2.ellipse(rgb, brim, (70, 12), 0, 0, 360, tuple(max(0, c - 25) for c in colour), -1, cv2.LINE_AA)
        cv2.ellipse(alpha, (80, 52), (66, 50), 0, 180, 360, 255, -1, cv2.LINE_AA)
        cv2.ellipse(alpha, brim, (72, 13), 0, 0, 360, 255, -1, cv2.LINE_AA)
        visible[: brim[1] + 12] = 0
    if hand:
        skin = tuple(int(v) for v in np.clip(np.asarray(skin_rgb) + rng.integers(-15, 16, size=3), 0, 255))
        if variant % 2:  # hand over mouth and chin
            centre, axes, angle = (80 + int(rng.integers(-15, 16)), 165), (42, 26), float(rng.uniform(-25, 25))
        else:  # phone held at the cheek
            side = 1 if variant % 4 == 0 else -1
            centre, axes, angle = (80 + side * 42, 140), (22, 40), float(side * 15)
            cv2.rectangle(rgb, (centre[0] - 12, 100), (centre[0] + 12, 150), (25, 25, 30), -1)
        cv2.ellipse(rgb, centre, axes, angle, 0, 360, skin, -1, cv2.LINE_AA)
        for k in (-2, -1, 0, 1):
            cx = centre[0] + k * axes[0] // 3
            dark = tuple(max(0, c - 45) for c in skin)
            cv2.line(rgb, (cx, centre[1] - axes[1] + 6), (cx + 3, centre[1] + axes[1] // 2), dark, 1, cv2.LINE_AA)
        cover = np.zeros((h, w), np.uint8)
        cv2.ellipse(cover, centre, axes, angle, 0, 360, 255, -1)
        visible[cover > 0] = 0
        alpha = np.maximum(alpha, cover)
    rgba = np.dstack([rgb, alpha]).astype(np.uint8)
    return HeadSprite(np.ascontiguousarray(rgba), visible, region, EYES.copy())


def _row_radius(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Half-width of the head ellipse at sprite rows ``y`` (at least 1 px)."""
    t = np.clip((y - HEAD_CENTRE[1]) / HEAD_AXES[1], -1.0, 1.0)
    return np.asarray(np.maximum(1.0, HEAD_AXES[0] * np.sqrt(1.0 - t * t)), dtype=np.float64)


def _turn_x(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], yaw: float) -> npt.NDArray[np.float64]:
    """Where source points move when the head (an ellipsoid) turns by ``yaw`` radians."""
    r = _row_radius(y)
    a = np.arcsin(np.clip((x - HEAD_CENTRE[0]) / r, -1.0, 1.0)) + yaw
    return np.asarray(HEAD_CENTRE[0] + r * np.sin(np.clip(a, -np.pi / 2, np.pi / 2)), dtype=np.float64)


def turn_head(sprite: HeadSprite, yaw_deg: float) -> HeadSprite:
    """Turn the head by ``yaw_deg`` about its vertical axis, modelling it as an ellipsoid.

    In each row, a point at ``u`` from the centre line (angle ``asin(u / r)`` around the head, ``r`` the
    row's half-width) moves to ``r sin(asin(u / r) + yaw)``: the side turning away is compressed, the nose
    moves towards the side the face turns to (the image's right for yaw > 0), and points that turn past
    the silhouette disappear.
    """
    import cv2

    w, h = sprite.size
    yaw = float(np.radians(np.clip(yaw_deg, -85.0, 85.0)))
    ys = np.arange(h, dtype=np.float64)[:, None]
    r = _row_radius(ys)
    u_out = (np.arange(w, dtype=np.float64)[None, :] - HEAD_CENTRE[0]) / r
    theta = np.arcsin(np.clip(u_out, -1.0, 1.0)) - yaw
    valid = (np.abs(u_out) < 1.0) & (np.abs(theta) < np.pi / 2)
    map_x = np.where(valid, HEAD_CENTRE[0] + r * np.sin(theta), -10.0).astype(np.float32)
    map_y = np.ascontiguousarray(np.broadcast_to(ys.astype(np.float32), (h, w)))
    rgba = cv2.remap(sprite.rgba, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    vis = cv2.remap(sprite.face_visible, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    region = cv2.remap(sprite.face_region, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    eyes = sprite.eyes.copy()
    eyes[:, 0] = _turn_x(eyes[:, 0], eyes[:, 1], yaw)
    return HeadSprite(np.asarray(rgba, np.uint8), np.asarray(vis, np.uint8), np.asarray(region, np.uint8), eyes)


def turned_face_box(yaw_deg: float) -> tuple[float, float, float, float]:
    """The face box (sprite pixels) after :func:`turn_head`: the extent of its turned outline."""
    yaw = float(np.radians(np.clip(yaw_deg, -85.0, 85.0)))
    x0, y0, x1, y1 = FACE_BOX
    ys = np.linspace(y0, y1, 13)
    left = _turn_x(np.full_like(ys, x0), ys, yaw)
    right = _turn_x(np.full_like(ys, x1), ys, yaw)
    return float(min(left.min(), right.min())), y0, float(max(left.max(), right.max())), y1


def pose_homography(
    pitch_deg: float, roll_deg: float, centre: tuple[float, float], depth_px: float = 400.0
) -> npt.NDArray[np.float64]:
    """3x3 homography tilting the sprite plane about ``centre`` (pitch > 0 looks up) and rolling it
    (roll > 0 counter-clockwise as displayed), projected back with weak perspective."""
    pt, rl = np.radians([pitch_deg, roll_deg])
    # looking up: the chin (positive y in the image) comes towards the camera
    rx = np.array([[1, 0, 0], [0, np.cos(pt), np.sin(pt)], [0, -np.sin(pt), np.cos(pt)]])
    rz = np.array([[np.cos(rl), np.sin(rl), 0], [-np.sin(rl), np.cos(rl), 0], [0, 0, 1]])
    rot = rz @ rx
    cx, cy = centre
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    # plane point (x, y, 0) -> rot @ (x, y, 0) + (0, 0, d), projected with focal d
    m = np.array([[rot[0, 0], rot[0, 1], 0.0], [rot[1, 0], rot[1, 1], 0.0], [rot[2, 0], rot[2, 1], depth_px]])
    k = np.array([[depth_px, 0, cx], [0, depth_px, cy], [0, 0, 1]], np.float64)
    h = k @ m @ to_centre
    return np.asarray(h / h[2, 2], dtype=np.float64)


def shrink(sprite: HeadSprite, factor: float) -> HeadSprite:
    """The sprite resized by ``factor`` (< 1) with area interpolation, so small faces are not aliased."""
    import cv2

    w, h = sprite.size
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    fx, fy = size[0] / w, size[1] / h

    def area(a: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return np.asarray(cv2.resize(a, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    return HeadSprite(
        area(sprite.rgba),
        area(sprite.face_visible),
        area(sprite.face_region),
        sprite.eyes * np.array([fx, fy]),
    )

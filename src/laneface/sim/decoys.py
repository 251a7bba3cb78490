"""What a decoy looks like (:class:`~laneface.sim.scene.Decoy`): the pixels of a printed face (a shirt's
print, a photo with its white border, a phone's screen in its bezel, a sticker) made from an LFW image, or
of a pet's head drawn from shapes (ears, eyes, muzzle, fur). The renderer places them (:mod:`.render`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from laneface.sim.scene import Decoy

__all__ = ["DecoyArt", "make_decoy_art"]

# the face in an LFW deep-funneled image (250 x 250): where a detector's box falls, and the print's crop
LFW_FACE_BOX = (78.0, 68.0, 172.0, 182.0)
LFW_CROP = (60, 50, 190, 200)  # x0, y0, x1, y1


@dataclass(frozen=True)
class DecoyArt:
    """A decoy's pixels: ``rgb`` with ``alpha`` (255 = opaque), the face's box in them, the size of a pixel
    in metres; ``billboard`` = turned towards every camera (a pet's head), else a plane facing the front."""

    rgb: npt.NDArray[np.uint8]
    alpha: npt.NDArray[np.uint8]
    face_box: tuple[float, float, float, float]
    m_per_px: float
    billboard: bool


def make_decoy_art(decoy: Decoy, rng: np.random.Generator, lfw_rgb: npt.NDArray[np.uint8] | None) -> DecoyArt:
    """The pixels of ``decoy``; a printed face needs its LFW image (``lfw_rgb``)."""
    if decoy.printed:
        if lfw_rgb is None:
            raise ValueError(f"decoy {decoy.decoy_id} ({decoy.kind}) needs its printed image")
        return _printed(decoy, rng, lfw_rgb)
    return _pet(decoy, rng)


def _printed(decoy: Decoy, rng: np.random.Generator, lfw_rgb: npt.NDArray[np.uint8]) -> DecoyArt:
    import cv2

    x0, y0, x1, y1 = LFW_CROP
    img = cv2.resize(lfw_rgb, (250, 250)) if lfw_rgb.shape[:2] != (250, 250) else lfw_rgb
    crop = img[y0:y1, x0:x1].astype(np.float32)
    fx0, fy0, fx1, fy1 = LFW_FACE_BOX
    box = (fx0 - x0, fy0 - y0, fx1 - x0, fy1 - y0)
    m_per_px = decoy.size_m / (fx1 - fx0)
    if decoy.kind == "shirt":  # ink on cloth: flatter, tinted by the fabric, slightly grainy
        fabric = rng.uniform(120, 230, size=3).astype(np.float32)
        crop = crop * 0.75 + fabric * 0.25 + rng.normal(0, 6, crop.shape).astype(np.float32)
    elif decoy.kind == "sticker":
        crop = crop * 0.85 + 30.0
    elif decoy.kind == "phone":  # a bright screen
        crop = np.clip(crop * 1.15 + 20.0, 0, 255)
    rgb = np.clip(crop, 0, 255).astype(np.uint8)
    border = {"photo": 10, "phone": 14}.get(decoy.kind, 0)
    if border:
        colour = (245, 245, 240) if decoy.kind == "photo" else (15, 15, 18)
        top = border * (3 if decoy.kind == "phone" else 1)
        rgb = np.asarray(cv2.copyMakeBorder(rgb, top, top, border, border, cv2.BORDER_CONSTANT, value=colour), np.uint8)
        box = (box[0] + border, box[1] + top, box[2] + border, box[3] + top)
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    return DecoyArt(np.ascontiguousarray(rgb), alpha, box, m_per_px, billboard=False)


def _pet(decoy: Decoy, rng: np.random.Generator) -> DecoyArt:
    """A dog's or a cat's head seen from the front: a furred ellipse, ears (pointed for a cat, hanging for a
    dog), two eyes with highlights, a muzzle and a nose."""
    import cv2

    n = 200
    fur = np.asarray(decoy.colour_rgb, np.float32)
    rgb = np.zeros((n, n, 3), np.float32)
    alpha = np.zeros((n, n), np.uint8)
    cat = decoy.kind == "cat"
    cx, cy = n // 2, n // 2 + 10
    ax, ay = (62, 55) if cat else (58, 66)
    cv2.ellipse(alpha, (cx, cy), (ax, ay), 0, 0, 360, 255, -1, cv2.LINE_AA)
    if cat:
        for s in (-1, 1):
            ear = np.array([[cx + s * 20, cy - 45], [cx + s * 62, cy - 95], [cx + s * 58, cy - 25]], np.int32)
            cv2.fillPoly(alpha, [ear], 255, cv2.LINE_AA)
    else:
        for s in (-1, 1):
            cv2.ellipse(alpha, (cx + s * 62, cy - 5), (20, 48), s * 15, 0, 360, 255, -1, cv2.LINE_AA)
    shade = rng.uniform(0.8, 1.1, size=(8, 8, 1)).astype(np.float32)
    rgb[:] = fur * cv2.resize(shade, (n, n), interpolation=cv2.INTER_CUBIC)[..., None]
    rgb += rng.normal(0, 14, (n, n, 3)).astype(np.float32)  # fur
    muzzle = fur * 0.6 + 90.0
    cv2.ellipse(rgb, (cx, cy + 30), (30 if cat else 34, 22 if cat else 30), 0, 0, 360, muzzle.tolist(), -1)
    iris = (150, 170, 60) if cat else (70, 45, 25)
    for s in (-1, 1):
        e = (cx + s * 24, cy - 8)
        cv2.ellipse(rgb, e, (11, 9 if cat else 11), 0, 0, 360, iris, -1, cv2.LINE_AA)
        cv2.ellipse(rgb, e, (3 if cat else 6, 8 if cat else 6), 0, 0, 360, (10, 10, 10), -1, cv2.LINE_AA)
        cv2.circle(rgb, (e[0] + 3, e[1] - 3), 2, (240, 240, 240), -1, cv2.LINE_AA)
    cv2.ellipse(rgb, (cx, cy + 18), (9, 6), 0, 0, 360, (40, 25, 25), -1, cv2.LINE_AA)
    out = np.clip(rgb, 0, 255).astype(np.uint8)
    box = (float(cx - ax), float(cy - ay), float(cx + ax), float(cy + ay))
    return DecoyArt(out, alpha, box, decoy.size_m / (2 * ax), billboard=True)

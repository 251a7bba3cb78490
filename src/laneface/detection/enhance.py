"""Local contrast and exposure correction of dark image regions, for the detector's input only.

A face behind a tinted or unlit window is dark and flat: its mean luma may be 30-60 of 255 with a
contrast of a few grey levels, below what detectors were trained on. :func:`enhance_dark` lifts such an
image (a window or windshield crop, a region around a tracked face) with a gamma curve that brings its
mean luma towards ``target_mean``, then applies CLAHE (contrast-limited adaptive histogram equalisation)
to the luma, leaving hue and saturation as they were. An image whose mean luma is at least
``below_mean`` is returned unchanged (the same object), so bright scenes cost one mean.

The corrected pixels are meant for detection only: quality assessment, best shots and templates use the
original pixels (the quality measures and the recognizers were calibrated on uncorrected faces).
:class:`EnhancingDetector` wraps any :class:`~laneface.detection.base.FaceDetector` so that every image
it is given (each region crop, when used with :func:`~laneface.detection.regions.detect_in_regions`) is
corrected on its own brightness. Parameters come from :class:`laneface.config.EnhanceSettings`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.config import EnhanceSettings
from laneface.detection.base import FaceDetector
from laneface.types import FaceDetections

__all__ = ["EnhancingDetector", "enhance_dark", "mean_luma"]

_LUMA = np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


def mean_luma(image_rgb: npt.NDArray[np.uint8]) -> float:
    """Mean luma (ITU-R BT.601, 0-255) of an RGB uint8 image; 0.0 for an empty one."""
    if image_rgb.size == 0:
        return 0.0
    # a strided sample is enough for a mean and keeps large crops cheap
    step = max(1, int(np.sqrt(image_rgb.shape[0] * image_rgb.shape[1] / 16384)))
    sample = image_rgb[::step, ::step].reshape(-1, 3).astype(np.float32)
    return float((sample @ _LUMA).mean())


def enhance_dark(image_rgb: npt.NDArray[np.uint8], params: EnhanceSettings | None = None) -> npt.NDArray[np.uint8]:
    """``image_rgb`` (H, W, 3) uint8 corrected for exposure and local contrast when its mean luma is below
    ``params.below_mean``; otherwise ``image_rgb`` itself (not a copy).

    The correction: a gamma curve mapping the mean luma to ``params.target_mean`` (gamma in [0.3, 1], so
    it only ever brightens), then CLAHE with ``params.clip_limit`` on tiles of about ``params.tile_px``
    pixels, both on the Y channel of YCrCb. Raises ValueError for anything but an (H, W, 3) uint8 array.
    """
    import cv2

    p = params if params is not None else EnhanceSettings()
    if not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8 or image_rgb.ndim != 3:
        raise ValueError("enhance_dark needs an (H, W, 3) uint8 image")
    if image_rgb.shape[2] != 3:
        raise ValueError(f"enhance_dark needs an (H, W, 3) uint8 image, got shape {image_rgb.shape}")
    h, w = image_rgb.shape[:2]
    if h < 2 or w < 2:
        return image_rgb
    mean = mean_luma(image_rgb)
    if mean >= p.below_mean:
        return image_rgb
    ycc = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2YCrCb)
    y = ycc[:, :, 0]
    if 0.0 < mean < p.target_mean:
        gamma = float(np.clip(np.log(p.target_mean / 255.0) / np.log(max(mean, 1.0) / 255.0), 0.3, 1.0))
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
        y = cv2.LUT(y, lut)
    if p.clip_limit > 0:
        grid = (max(1, round(w / p.tile_px)), max(1, round(h / p.tile_px)))
        y = cv2.createCLAHE(clipLimit=p.clip_limit, tileGridSize=grid).apply(np.ascontiguousarray(y))
    ycc[:, :, 0] = y
    return np.asarray(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), dtype=np.uint8)


class EnhancingDetector:
    """A :class:`FaceDetector` that runs ``base`` on :func:`enhance_dark` of each image it is given.

    Boxes and landmarks are in the coordinates of the given image (the correction does not move pixels).
    """

    def __init__(self, base: FaceDetector, params: EnhanceSettings | None = None) -> None:
        self.base = base
        self.params = params if params is not None else EnhanceSettings()
        self.name = base.name

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        return self.base.detect(enhance_dark(image_rgb, self.params))

"""The FaceDetector protocol and helpers shared by detector backends."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from laneface.types import FaceDetections

__all__ = ["FaceDetector", "validate_rgb"]


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in one RGB uint8 image.

    ``detect`` returns every face whose score is at least the detector's threshold, boxes in pixel xyxy
    of the input image, 5 landmarks in the order documented in :mod:`laneface.types`, and scores.
    An image without faces gives ``FaceDetections.empty()``, never ``None``.
    """

    name: str

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections: ...


def validate_rgb(image_rgb: Any) -> npt.NDArray[np.uint8]:
    """Return ``image_rgb`` if it is an (H, W, 3) uint8 array with H, W > 0, else raise ValueError."""
    if not isinstance(image_rgb, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image_rgb).__name__}")
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image_rgb.shape}")
    if image_rgb.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image_rgb.dtype}")
    if image_rgb.shape[0] == 0 or image_rgb.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {image_rgb.shape}")
    return image_rgb

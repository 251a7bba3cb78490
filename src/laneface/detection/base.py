"""The FaceDetector protocol and helpers shared by detector backends."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from laneface.types import FaceDetections

__all__ = ["FaceDetector", "nms_xyxy", "validate_rgb"]


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in one RGB uint8 image.

    ``detect`` returns every face whose score is at least the detector's threshold, boxes in pixel xyxy
    of the input image, 5 landmarks in the order documented in :mod:`laneface.types`, and scores.
    An image without faces gives ``FaceDetections.empty()``, never ``None``.
    """

    name: str

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections: ...


def nms_xyxy(
    boxes_xyxy: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float
) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; returns kept indices in descending score order."""
    if len(scores) == 0:
        return np.zeros((0,), np.intp)
    x0, y0, x1, y1 = (boxes_xyxy[:, i].astype(np.float64) for i in range(4))
    areas = np.maximum(0.0, x1 - x0) * np.maximum(0.0, y1 - y0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        ix0 = np.maximum(x0[i], x0[rest])
        iy0 = np.maximum(y0[i], y0[rest])
        ix1 = np.minimum(x1[i], x1[rest])
        iy1 = np.minimum(y1[i], y1[rest])
        inter = np.maximum(0.0, ix1 - ix0) * np.maximum(0.0, iy1 - iy0)
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


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

"""Helpers shared by the onnxruntime detector backends: input checks, letterboxing, sessions, post-processing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from laneface.detection.base import validate_rgb
from laneface.errors import ConfigError, ModelError
from laneface.geometry import nms_xyxy
from laneface.models import onnx_input, onnx_session
from laneface.types import FaceDetections

__all__ = [
    "anchor_centers",
    "check_input_size",
    "create_session",
    "finalize_detections",
    "letterbox",
    "validate_rgb",
]

F32 = npt.NDArray[np.float32]


def check_input_size(input_size: tuple[int, int], multiple: int = 32) -> tuple[int, int]:
    """Validate a network input size ``(width, height)``: positive ints, multiples of ``multiple``."""
    if len(input_size) != 2:
        raise ConfigError(f"input_size must be (width, height), got {input_size!r}")
    w, h = int(input_size[0]), int(input_size[1])
    if w <= 0 or h <= 0 or w % multiple or h % multiple:
        raise ConfigError(f"input_size sides must be positive multiples of {multiple}, got {input_size!r}")
    return w, h


def create_session(model_path: Path, num_threads: int, log_severity: int = 3) -> Any:
    """An ``onnxruntime.InferenceSession`` (:func:`laneface.models.onnx_session`) for a detector that runs one
    image at a time: a model exported with a fixed batch other than 1 is refused with a clear error."""
    session = onnx_session(model_path, num_threads=num_threads, log_severity=log_severity)
    batch = onnx_input(session).fixed_batch
    if batch is not None and batch != 1:
        raise ModelError(
            f"{model_path}: detector exported with a fixed batch of {batch}; it must take a batch of 1 or any size"
        )
    return session


def letterbox(image: npt.NDArray[np.uint8], size_wh: tuple[int, int]) -> tuple[npt.NDArray[np.uint8], float]:
    """Resize keeping the aspect ratio to fit ``size_wh``, pad bottom/right with zeros.

    Returns the (height, width, 3) canvas and the scale (network pixels per image pixel).
    """
    w, h = size_wh
    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih)
    nw, nh = max(1, min(w, round(iw * scale))), max(1, min(h, round(ih * scale)))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    canvas = np.zeros((h, w, 3), np.uint8)
    canvas[:nh, :nw] = resized
    return canvas, scale


def anchor_centers(height: int, width: int, stride: int, n_anchors: int) -> F32:
    """Anchor centres ``(x, y)`` in network pixels of a (height x width) feature map, row-major, each
    repeated ``n_anchors`` times consecutively (insightface SCRFD layout)."""
    ys, xs = np.mgrid[:height, :width]
    centers = (np.stack([xs, ys], axis=-1).reshape(-1, 2) * stride).astype(np.float32)
    if n_anchors > 1:
        centers = np.repeat(centers, n_anchors, axis=0)
    return centers


def finalize_detections(
    boxes_xyxy: F32,
    landmarks_xy: F32,
    scores: F32,
    *,
    scale: float,
    image_hw: tuple[int, int],
    nms_iou: float,
    detector: str,
) -> FaceDetections:
    """NMS in network pixels, then map back to image pixels (divide by ``scale``) and clip boxes."""
    if len(scores) == 0:
        return FaceDetections.empty(detector)
    keep = nms_xyxy(boxes_xyxy.astype(np.float32), scores.astype(np.float32), nms_iou)
    boxes = boxes_xyxy[keep].reshape(-1, 4) / scale
    lms = landmarks_xy[keep].reshape(-1, 5, 2) / scale
    h, w = image_hw
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, float(w))
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, float(h))
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if not valid.any():
        return FaceDetections.empty(detector)
    return FaceDetections(
        boxes[valid].astype(np.float32),
        lms[valid].astype(np.float32),
        scores[keep][valid].astype(np.float32),
        detector,
    )

"""YuNet face detector through OpenCV's ``cv2.FaceDetectorYN`` (any input size)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from laneface.detection.base import validate_rgb
from laneface.errors import ModelError
from laneface.types import FaceDetections

__all__ = ["YuNetDetector"]


class YuNetDetector:
    """YuNet returns boxes (x, y, w, h), 5 landmarks in the canonical order, and a score in [0, 1]."""

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        top_k: int = 5000,
        num_threads: int = 1,
        name: str = "yunet",
    ) -> None:
        self.name = name
        self._num_threads = int(num_threads)
        # OpenCV 5 logs a harmless "targets not supported by the new graph engine" warning on create.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_threshold, nms_iou, top_k)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
            raise ModelError(f"OpenCV cannot load the YuNet model {model_path}: {reason}") from None
        finally:
            cv2.utils.logging.setLogLevel(level)
        self._size: tuple[int, int] = (320, 320)

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        validate_rgb(image_rgb)
        h, w = image_rgb.shape[:2]
        if (w, h) != self._size:
            self._net.setInputSize((w, h))
            self._size = (w, h)
        bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
        previous = cv2.getNumThreads()
        cv2.setNumThreads(self._num_threads)
        try:
            _, faces = self._net.detect(bgr)
        finally:
            cv2.setNumThreads(previous)
        if faces is None or len(faces) == 0:
            return FaceDetections.empty(self.name)
        f: npt.NDArray[np.float32] = np.asarray(faces, dtype=np.float32)
        boxes = np.stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3]], axis=1)
        boxes = np.clip(boxes, 0, np.array([w, h, w, h], np.float32))
        return FaceDetections(boxes, f[:, 4:14].reshape(-1, 5, 2), f[:, 14], self.name)

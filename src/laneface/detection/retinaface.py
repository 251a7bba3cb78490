"""RetinaFace (biubug6 Pytorch_Retinaface, MobileNet-0.25) face detector on onnxruntime."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.detection._onnx_common import (
    check_input_size,
    create_session,
    finalize_detections,
    letterbox,
    validate_rgb,
)
from laneface.errors import ConfigError, ModelError
from laneface.types import FaceDetections

__all__ = ["RetinaFaceDetector"]

F32 = npt.NDArray[np.float32]

_MIN_SIZES = ((16, 32), (64, 128), (256, 512))
_STEPS = (8, 16, 32)
_VARIANCE = (0.1, 0.2)
_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)


def _priors(width: int, height: int) -> F32:
    """Prior boxes ``(cx, cy, w, h)`` normalised to the input size, in the model's output order."""
    parts: list[F32] = []
    for step, min_sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.mgrid[:fh, :fw]
        cx = ((xs.reshape(-1) + 0.5) * step / width).astype(np.float32)
        cy = ((ys.reshape(-1) + 0.5) * step / height).astype(np.float32)
        per_size = [
            np.stack([cx, cy, np.full_like(cx, ms / width), np.full_like(cy, ms / height)], axis=1) for ms in min_sizes
        ]
        parts.append(np.stack(per_size, axis=1).reshape(-1, 4))
    return np.concatenate(parts).astype(np.float32)


class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25 detector.

    ``input_size`` is the network input ``(width, height)``; the shipped export is fixed at 640x640.
    Images of any size are letterboxed into it (aspect kept, padding bottom/right).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.5,
        nms_iou: float = 0.4,
        input_size: tuple[int, int] = (640, 640),
        num_threads: int = 1,
        name: str = "retinaface",
        log_severity: int = 3,
    ) -> None:
        self.name = name
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.input_size = check_input_size(input_size)
        self._session = create_session(model_path, num_threads, log_severity)
        inp = self._session.get_inputs()[0]
        self._input_name: str = inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ModelError(f"{model_path}: expected a 4-d input, got {shape}")
        fixed_h, fixed_w = shape[2], shape[3]
        if isinstance(fixed_w, int) and isinstance(fixed_h, int) and (fixed_w, fixed_h) != self.input_size:
            raise ConfigError(
                f"{model_path} has a fixed input of {fixed_w}x{fixed_h}; input_size {self.input_size} differs"
            )
        self._priors = _priors(*self.input_size)

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        image_rgb = validate_rgb(image_rgb)
        canvas, scale = letterbox(image_rgb, self.input_size)
        blob = canvas[:, :, ::-1].astype(np.float32) - _MEAN_BGR  # RGB -> BGR, minus mean, no scaling
        blob = np.ascontiguousarray(blob.transpose(2, 0, 1)[None])
        outputs = self._session.run(None, {self._input_name: blob})
        by_dim = {int(o.shape[-1]): np.asarray(o, np.float32).reshape(-1, int(o.shape[-1])) for o in outputs}
        try:
            loc, conf, landms = by_dim[4], by_dim[2], by_dim[10]
        except KeyError as exc:
            raise ModelError(f"unexpected RetinaFace outputs: {[o.shape for o in outputs]}") from exc
        if not (len(loc) == len(conf) == len(landms) == len(self._priors)):
            raise ModelError(f"RetinaFace output length {len(loc)} != number of priors {len(self._priors)}")
        scores = conf[:, 1]
        mask = scores >= self.score_threshold
        if not mask.any():
            return FaceDetections.empty(self.name)
        pri, loc, landms, scores = self._priors[mask], loc[mask], landms[mask], scores[mask]
        v0, v1 = _VARIANCE
        centers = pri[:, :2] + loc[:, :2] * v0 * pri[:, 2:]
        sizes = pri[:, 2:] * np.exp(loc[:, 2:] * v1)
        wh = np.array(self.input_size, np.float32)
        boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1) * np.tile(wh, 2)
        lms = (pri[:, None, :2] + landms.reshape(-1, 5, 2) * v0 * pri[:, None, 2:]) * wh
        return finalize_detections(
            boxes.astype(np.float32),
            lms.astype(np.float32),
            scores.astype(np.float32),
            scale=scale,
            image_hw=(image_rgb.shape[0], image_rgb.shape[1]),
            nms_iou=self.nms_iou,
            detector=self.name,
        )

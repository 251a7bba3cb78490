"""SCRFD (insightface) face detector with 5 keypoints on onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.detection._onnx_common import (
    anchor_centers,
    check_input_size,
    create_session,
    finalize_detections,
    letterbox,
    validate_rgb,
)
from laneface.errors import ConfigError, ModelError
from laneface.types import FaceDetections

__all__ = ["ScrfdDetector"]

F32 = npt.NDArray[np.float32]


class ScrfdDetector:
    """SCRFD detector (e.g. ``scrfd_2.5g_bnkps``, ``scrfd_500m_kps``).

    ``input_size`` is the network input ``(width, height)``, sides multiples of 32; models exported with
    a fixed input shape only accept that shape. Outputs are matched by shape, not by name: last dimension
    1/4/10 = score/box/keypoints, longer outputs = finer strides (8, 16, 32, ...), and the number of
    anchors per location is the output length divided by the number of feature-map cells.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.5,
        nms_iou: float = 0.4,
        input_size: tuple[int, int] = (640, 640),
        num_threads: int = 1,
        name: str = "scrfd",
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
        self._anchor_cache: dict[tuple[int, int], F32] = {}

    def _anchors(self, stride: int, n_anchors: int) -> F32:
        key = (stride, n_anchors)
        cached = self._anchor_cache.get(key)
        if cached is None:
            w, h = self.input_size
            cached = anchor_centers(h // stride, w // stride, stride, n_anchors)
            self._anchor_cache[key] = cached
        return cached

    def _levels(self, outputs: list[npt.NDArray[np.float32]]) -> list[tuple[int, int, F32, F32, F32]]:
        """Group raw outputs into ``(stride, n_anchors, scores, box distances, keypoint distances)``."""
        groups: dict[int, list[F32]] = {1: [], 4: [], 10: []}
        for out in outputs:
            arr = np.asarray(out, np.float32)
            dim = int(arr.shape[-1])
            if dim not in groups:
                raise ModelError(f"unexpected SCRFD output shape {arr.shape}")
            groups[dim].append(arr.reshape(-1, dim))
        n_levels = len(groups[1])
        if n_levels == 0 or len(groups[4]) != n_levels or len(groups[10]) != n_levels:
            raise ModelError(f"SCRFD outputs are not score/box/keypoint triples: {[o.shape for o in outputs]}")
        for dim in groups:
            groups[dim].sort(key=len, reverse=True)
        w, h = self.input_size
        levels = []
        for i in range(n_levels):
            stride = 8 * 2**i
            cells = (h // stride) * (w // stride)
            length = len(groups[1][i])
            if cells == 0 or length % cells or length == 0:
                raise ModelError(f"SCRFD output length {length} does not fit stride {stride} at {w}x{h}")
            if len(groups[4][i]) != length or len(groups[10][i]) != length:
                raise ModelError(f"SCRFD outputs of stride {stride} differ in length")
            levels.append((stride, length // cells, groups[1][i][:, 0], groups[4][i], groups[10][i]))
        return levels

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        image_rgb = validate_rgb(image_rgb)
        canvas, scale = letterbox(image_rgb, self.input_size)
        blob = (canvas.astype(np.float32) - 127.5) / 128.0  # RGB, as insightface (swapRB=True from BGR)
        blob = np.ascontiguousarray(blob.transpose(2, 0, 1)[None])
        outputs = self._session.run(None, {self._input_name: blob})
        boxes_parts: list[F32] = []
        kps_parts: list[F32] = []
        score_parts: list[F32] = []
        for stride, n_anchors, scores, dist, kdist in self._levels(outputs):
            mask = scores >= self.score_threshold
            if not mask.any():
                continue
            centers = self._anchors(stride, n_anchors)[mask]
            d = dist[mask] * stride
            boxes_parts.append(np.concatenate([centers - d[:, :2], centers + d[:, 2:]], axis=1))
            kps_parts.append(centers[:, None, :] + kdist[mask].reshape(-1, 5, 2) * stride)
            score_parts.append(scores[mask])
        if not score_parts:
            return FaceDetections.empty(self.name)
        return finalize_detections(
            np.concatenate(boxes_parts).astype(np.float32),
            np.concatenate(kps_parts).astype(np.float32),
            np.concatenate(score_parts).astype(np.float32),
            scale=scale,
            image_hw=(image_rgb.shape[0], image_rgb.shape[1]),
            nms_iou=self.nms_iou,
            detector=self.name,
        )

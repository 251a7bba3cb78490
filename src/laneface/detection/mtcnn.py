"""MTCNN face detector (Zhang et al. 2016) on the weights that the ``mtcnn`` PyPI package ships, in numpy.

The ``mtcnn`` wheel carries the three networks' weights (``assets/weights/{pnet,rnet,onet}.lz4``, joblib
files of Keras-layout arrays, MIT like the original release) but runs them with TensorFlow, which laneface
does not depend on: importing the ``mtcnn`` package fails without it. This module reads the weight files
(found by :class:`laneface.models.ModelStore`, sha256-verified, never importing the package) and runs the
three stages with numpy convolutions, so ``pip install laneface`` alone gives a detector that searches
faces down to a 12 px window:

1. P-Net, fully convolutional, over an image pyramid from ``min_face_px`` upwards: candidate boxes;
2. R-Net on 24x24 crops of the candidates: rejects most, refines the boxes;
3. O-Net on 48x48 crops: final score, box and the five landmarks.

Landmarks come out in laneface's order (image-left eye, image-right eye, nose, image-left and image-right
mouth corner); the score is O-Net's face probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.detection.base import validate_rgb
from laneface.errors import ModelError
from laneface.types import FaceDetections

__all__ = ["MtcnnDetector", "MtcnnWeights", "load_mtcnn_weights", "onet", "pnet", "rnet"]

F32 = npt.NDArray[np.float32]
MtcnnWeights = list[F32]

#: number of arrays in each network's weight list (conv/PReLU/dense as in the package's Keras models)
_SIZES = {"pnet": 13, "rnet": 16, "onet": 21}


def load_mtcnn_weights(path: Path, net: str) -> MtcnnWeights:
    """The weight arrays of one network (``net`` in pnet/rnet/onet) from a verified ``.lz4`` joblib file."""
    import joblib

    try:
        raw = joblib.load(path)
    except Exception as exc:  # joblib raises many kinds for a damaged file
        raise ModelError(f"cannot read MTCNN weights {path}: {exc}") from None
    if not isinstance(raw, list) or len(raw) != _SIZES[net]:
        raise ModelError(f"{path} is not MTCNN {net} weights (expected a list of {_SIZES[net]} arrays)")
    return [np.ascontiguousarray(a, dtype=np.float32) for a in raw]


# --- layers (NHWC float32) -------------------------------------------------------------------------------


def _conv(x: F32, w: F32, b: F32) -> F32:
    """Valid 2-D convolution, stride 1: x (N, H, W, Cin), w (kh, kw, Cin, Cout)."""
    kh, kw, cin, cout = w.shape
    n, h, wd, _ = x.shape
    oh, ow = h - kh + 1, wd - kw + 1
    if oh <= 0 or ow <= 0:
        return np.zeros((n, max(0, oh), max(0, ow), cout), np.float32)
    cols = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, oh, ow, Cin, kh, kw)
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * cin)
    out = cols @ w.reshape(kh * kw * cin, cout)
    out += b
    return out.reshape(n, oh, ow, cout)


def _prelu(x: F32, alpha: F32) -> F32:
    return np.where(x > 0, x, x * alpha.reshape(-1)).astype(np.float32, copy=False)


def _maxpool(x: F32, k: int, s: int, padding: Literal["same", "valid"]) -> F32:
    """Max pooling with TensorFlow's padding rules (``same``: output ceil(n / s), extra padding at the end)."""
    _, h, w, _ = x.shape
    if padding == "same":
        oh, ow = -(-h // s), -(-w // s)
        ph, pw = max(0, (oh - 1) * s + k - h), max(0, (ow - 1) * s + k - w)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]
    return np.asarray(win.max(axis=(4, 5)), dtype=np.float32)


def _softmax(x: F32) -> F32:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True), dtype=np.float32)


def _dense_input(x: F32) -> F32:
    """(N, H, W, C) flattened in the (W, H, C) order the dense layers were trained on."""
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(len(x), -1)


def pnet(x: F32, w: MtcnnWeights) -> tuple[F32, F32]:
    """Box offsets (N, H', W', 4) and face probability (N, H', W') of every 12x12 window, stride 2."""
    x = _prelu(_conv(x, w[0], w[1]), w[2])
    x = _maxpool(x, 2, 2, "same")
    x = _prelu(_conv(x, w[3], w[4]), w[5])
    x = _prelu(_conv(x, w[6], w[7]), w[8])
    reg = _conv(x, w[9], w[10])
    prob = _softmax(_conv(x, w[11], w[12]))[..., 1]
    return reg, prob


def rnet(x: F32, w: MtcnnWeights) -> tuple[F32, F32]:
    """Box offsets (N, 4) and face probability (N,) of 24x24 crops."""
    x = _prelu(_conv(x, w[0], w[1]), w[2])
    x = _maxpool(x, 3, 2, "same")
    x = _prelu(_conv(x, w[3], w[4]), w[5])
    x = _maxpool(x, 3, 2, "valid")
    x = _prelu(_conv(x, w[6], w[7]), w[8])
    f = _dense_input(x) @ w[9] + w[10]
    f = _prelu(f, w[11])
    return f @ w[12] + w[13], _softmax(f @ w[14] + w[15])[:, 1]


def onet(x: F32, w: MtcnnWeights) -> tuple[F32, F32, F32]:
    """Box offsets (N, 4), landmarks (N, 10: five x then five y, relative to the crop) and probability (N,)."""
    x = _prelu(_conv(x, w[0], w[1]), w[2])
    x = _maxpool(x, 3, 2, "same")
    x = _prelu(_conv(x, w[3], w[4]), w[5])
    x = _maxpool(x, 3, 2, "valid")
    x = _prelu(_conv(x, w[6], w[7]), w[8])
    x = _maxpool(x, 2, 2, "same")
    x = _prelu(_conv(x, w[9], w[10]), w[11])
    f = _dense_input(x) @ w[12] + w[13]
    f = _prelu(f, w[14])
    return f @ w[15] + w[16], f @ w[17] + w[18], _softmax(f @ w[19] + w[20])[:, 1]


# --- boxes ------------------------------------------------------------------------------------------------


def _nms(
    boxes: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], thr: float, mode: str
) -> npt.NDArray[np.intp]:
    """Greedy NMS; ``mode`` "union" (IoU) or "min" (intersection over the smaller box)."""
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]))
        ih = np.maximum(0.0, np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]))
        inter = iw * ih
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter <= thr * np.maximum(denom, 1e-9)]
    return np.asarray(keep, dtype=np.intp)


def _square(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + 0.5 * (w - side)
    out[:, 1] = boxes[:, 1] + 0.5 * (h - side)
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _crops(norm: F32, boxes: npt.NDArray[np.float64], size: int) -> F32:
    """``size`` x ``size`` crops of the normalised image at ``boxes`` (outside the image: 0, i.e. mid-grey)."""
    import cv2

    h, w = norm.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.float32)
    for i, (x0f, y0f, x1f, y1f) in enumerate(boxes):
        x0, y0 = math.floor(x0f), math.floor(y0f)
        x1, y1 = max(x0 + 1, math.ceil(x1f)), max(y0 + 1, math.ceil(y1f))
        patch = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
        sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = norm[sy0:sy1, sx0:sx1]
        interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interp)
    return out


def _normalise(image: npt.NDArray[np.uint8]) -> F32:
    return ((image.astype(np.float32) - 127.5) * 0.0078125)[None]


class MtcnnDetector:
    """The three MTCNN stages on one RGB image; see the module docstring.

    ``min_face_px`` is the smallest face (box side, about twice the inter-eye distance) searched: the
    pyramid starts at the scale that maps it to P-Net's 12 px window, so values under 12 upsample the
    image. ``score_threshold`` applies to O-Net's probability; ``stage_thresholds`` are P-Net's and R-Net's.
    """

    def __init__(
        self,
        weights: Sequence[MtcnnWeights],
        *,
        score_threshold: float = 0.8,
        min_face_px: float = 16.0,
        stage_thresholds: tuple[float, float] = (0.6, 0.7),
        scale_factor: float = 0.709,
        max_candidates: int = 2000,
        num_threads: int = 1,
        name: str = "mtcnn",
    ) -> None:
        if len(weights) != 3 or [len(w) for w in weights] != list(_SIZES.values()):
            raise ModelError("MTCNN needs the P-Net, R-Net and O-Net weight lists, in that order")
        if min_face_px < 4 or not 0.1 < scale_factor < 0.95:
            raise ValueError("min_face_px must be >= 4 and scale_factor in (0.1, 0.95)")
        self.name = name
        self._p, self._r, self._o = (list(w) for w in weights)
        self._threshold = float(score_threshold)
        self._min_face = float(min_face_px)
        self._tp, self._tr = (float(t) for t in stage_thresholds)
        self._factor = float(scale_factor)
        self._max_candidates = int(max_candidates)
        self._num_threads = int(num_threads)

    @classmethod
    def from_files(cls, pnet_path: Path, rnet_path: Path, onet_path: Path, **options: object) -> MtcnnDetector:
        weights = [load_mtcnn_weights(p, n) for p, n in ((pnet_path, "pnet"), (rnet_path, "rnet"), (onet_path, "onet"))]
        return cls(weights, **options)  # type: ignore[arg-type]

    def scales(self, width: int, height: int) -> list[float]:
        """The pyramid: 12 / min_face_px, then each ``scale_factor`` times the last, while the image is >= 12 px."""
        scale = 12.0 / self._min_face
        out = []
        while min(width, height) * scale >= 12.0:
            out.append(scale)
            scale *= self._factor
        return out

    def _proposals(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        import cv2

        h, w = image.shape[:2]
        found = []
        for scale in self.scales(w, h):
            sw, sh = max(12, math.ceil(w * scale)), max(12, math.ceil(h * scale))
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            small = np.asarray(cv2.resize(image, (sw, sh), interpolation=interp), dtype=np.uint8)
            reg, prob = pnet(_normalise(small), self._p)
            ys, xs = np.nonzero(prob[0] > self._tp)
            if ys.size == 0:
                continue
            r = reg[0, ys, xs].astype(np.float64)
            x0, y0 = 2.0 * xs + 1.0, 2.0 * ys + 1.0  # the 12x12 window of each output cell
            boxes = np.stack([x0 + 11 * r[:, 0], y0 + 11 * r[:, 1], x0 + 11 + 11 * r[:, 2], y0 + 11 + 11 * r[:, 3]], 1)
            boxes /= scale
            scores = prob[0, ys, xs].astype(np.float64)
            keep = _nms(boxes, scores, 0.5, "union")
            found.append(np.column_stack([boxes[keep], scores[keep]]))
        if not found:
            return np.zeros((0, 5))
        cand = np.concatenate(found)
        cand = cand[_nms(cand[:, :4], cand[:, 4], 0.7, "union")][: self._max_candidates]
        return np.column_stack([_square(cand[:, :4]), cand[:, 4]])

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        import cv2

        validate_rgb(image_rgb)
        previous = cv2.getNumThreads()
        cv2.setNumThreads(self._num_threads)
        try:
            return self._detect(np.ascontiguousarray(image_rgb))
        finally:
            cv2.setNumThreads(previous)

    def _detect(self, image: npt.NDArray[np.uint8]) -> FaceDetections:
        h, w = image.shape[:2]
        cand = self._proposals(image)
        if len(cand) == 0:
            return FaceDetections.empty(self.name)
        norm = _normalise(image)[0]
        # R-Net: reject and refine
        reg, prob = rnet(_crops(norm, cand[:, :4], 24), self._r)
        keep = prob > self._tr
        boxes, reg, scores = cand[keep, :4], reg[keep].astype(np.float64), prob[keep].astype(np.float64)
        if len(boxes) == 0:
            return FaceDetections.empty(self.name)
        size = np.tile((boxes[:, 2:4] - boxes[:, 0:2] + 1.0), 2)
        boxes = boxes + reg * size
        k = _nms(boxes, scores, 0.7, "union")
        boxes = _square(boxes[k])
        # O-Net: score, box, landmarks (relative to the crop it was given)
        reg, lm, prob = onet(_crops(norm, boxes, 48), self._o)
        keep = prob >= self._threshold
        boxes, reg, lm = boxes[keep], reg[keep].astype(np.float64), lm[keep].astype(np.float64)
        probs = prob[keep].astype(np.float64)
        if len(boxes) == 0:
            return FaceDetections.empty(self.name)
        wh = boxes[:, 2:4] - boxes[:, 0:2] + 1.0
        lx = boxes[:, 0:1] + wh[:, 0:1] * lm[:, 0:5] - 1.0
        ly = boxes[:, 1:2] + wh[:, 1:2] * lm[:, 5:10] - 1.0
        boxes = boxes + reg * np.tile(wh, 2)
        k = _nms(boxes, probs, 0.7, "min")
        out_boxes = np.clip(boxes[k], 0, [w, h, w, h]).astype(np.float32)
        landmarks = np.stack([lx[k], ly[k]], axis=-1).astype(np.float32)
        return FaceDetections(out_boxes, landmarks, probs[k].astype(np.float32), self.name)

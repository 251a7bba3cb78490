"""dlib ResNet-29 face recognizer (128-d).

Crops: the 5 canonical landmarks give a first alignment onto :data:`laneface.alignment.DLIB_150`; when
dlib's 5-point predictor is available (default), it then refines the landmarks inside the face region
that this alignment implies, and the crop is dlib's own face chip (150x150, padding 0.25) — the
alignment the network was trained with, whatever detector found the face.

``augment`` ("flip", "tta"; :mod:`laneface.embedding.augment`) sums the descriptors of fixed views of the
chip before normalising (test-time augmentation: 2 or 4 times the cost); the model version then ends in
``+flip`` / ``+tta`` so that such templates are never compared with plain ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dlib
import numpy as np
import numpy.typing as npt

from laneface.alignment import DLIB_150, apply_affine, similarity_transform
from laneface.embedding.augment import augmentation, suffix, views
from laneface.embedding.base import l2_normalise, template_crops
from laneface.types import FaceDetections, TemplateBatch

__all__ = ["DlibResnetEmbedder"]

#: Median box of dlib's HOG detector inside its 150x150 chip (x0, y0, x1, y1), measured on 290 LFW faces.
_HOG_BOX_IN_CHIP = np.array([[10.8, 10.7], [144.3, 10.7], [144.3, 143.9], [10.8, 143.9]])


class DlibResnetEmbedder:
    def __init__(
        self,
        model_path: Path,
        model_version: str,
        *,
        shape5_path: Path | None = None,
        batch_size: int = 32,
        name: str = "dlib-resnet",
        augment: str = "",
    ) -> None:
        self._views = augmentation(augment)
        self.name = name + suffix(augment)
        self.model_version = model_version + suffix(augment)
        self.alignment = DLIB_150
        self._batch = int(batch_size)
        self._net = dlib.face_recognition_model_v1(str(model_path))
        self._shape = dlib.shape_predictor(str(shape5_path)) if shape5_path is not None else None

    def crops(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[npt.NDArray[np.uint8]]:
        if self._shape is None:
            return template_crops(image_rgb, detections, self.alignment)
        img = np.ascontiguousarray(image_rgb)
        h, w = img.shape[:2]
        out = []
        for lm in detections.landmarks_xy:
            m = np.vstack([similarity_transform(lm, DLIB_150.as_array()), [0.0, 0.0, 1.0]])
            corners = apply_affine(np.linalg.inv(m)[:2], _HOG_BOX_IN_CHIP)
            x0, y0 = np.clip(corners.min(axis=0), 0, [w - 1, h - 1])
            x1, y1 = np.clip(corners.max(axis=0), 0, [w - 1, h - 1])
            rect = dlib.rectangle(round(x0), round(y0), round(x1), round(y1))
            shape = self._shape(img, rect)
            chip = dlib.get_face_chip(img, shape, DLIB_150.size_wh[0], 0.25)
            out.append(np.ascontiguousarray(chip, dtype=np.uint8))
        return out

    def embed(self, crops_rgb: Sequence[npt.NDArray[np.uint8]]) -> TemplateBatch:
        w, h = self.alignment.size_wh
        out = np.zeros((len(crops_rgb), 128), np.float32)
        for start in range(0, len(crops_rgb), self._batch):
            chunk = []
            for crop in crops_rgb[start : start + self._batch]:
                if crop.shape != (h, w, 3) or crop.dtype != np.uint8:
                    raise ValueError(f"crops must be ({h}, {w}, 3) uint8, got {crop.shape} {crop.dtype}")
                chunk.append(np.ascontiguousarray(crop))
            for seen in views(chunk, self._views):
                descs = self._net.compute_face_descriptor(seen)
                out[start : start + len(chunk)] += np.asarray([np.asarray(d) for d in descs], np.float32)
        return TemplateBatch(l2_normalise(out) if len(out) else out, self.model_version)

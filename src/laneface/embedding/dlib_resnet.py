"""dlib ResNet-29 face recognizer (128-d), fed with crops aligned to the DLIB_150 template."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dlib
import numpy as np
import numpy.typing as npt

from laneface.alignment import DLIB_150
from laneface.embedding.base import l2_normalise
from laneface.types import TemplateBatch

__all__ = ["DlibResnetEmbedder"]


class DlibResnetEmbedder:
    def __init__(
        self, model_path: Path, model_version: str, *, batch_size: int = 32, name: str = "dlib-resnet"
    ) -> None:
        self.name = name
        self.model_version = model_version
        self.alignment = DLIB_150
        self._batch = int(batch_size)
        self._net = dlib.face_recognition_model_v1(str(model_path))

    def embed(self, crops_rgb: Sequence[npt.NDArray[np.uint8]]) -> TemplateBatch:
        w, h = self.alignment.size_wh
        out = np.zeros((len(crops_rgb), 128), np.float32)
        for start in range(0, len(crops_rgb), self._batch):
            chunk = []
            for crop in crops_rgb[start : start + self._batch]:
                if crop.shape != (h, w, 3) or crop.dtype != np.uint8:
                    raise ValueError(f"crops must be ({h}, {w}, 3) uint8, got {crop.shape} {crop.dtype}")
                chunk.append(np.ascontiguousarray(crop))
            descs = self._net.compute_face_descriptor(chunk)
            out[start : start + len(chunk)] = np.asarray([np.asarray(d) for d in descs], np.float32)
        return TemplateBatch(l2_normalise(out) if len(out) else out, self.model_version)

"""Generic ONNX recognizer for ArcFace-style models, configured entirely by its ModelSpec.

It reads ``input_size`` (width, height), ``alignment`` (template name) and ``preprocessing``:
``color`` ("RGB" or "BGR"), ``mean`` and ``std`` (scalars or per-channel lists, applied as
``(x - mean) / std``), ``layout`` ("NCHW" or "NHWC"). ``augment`` ("flip", "tta") sums the embeddings of
fixed views of the crop (test-time augmentation, :mod:`laneface.embedding.augment`). The output's last axis
is the template; a model exported with a fixed batch size (SFace: 1) is run that many crops at a time. This
is the path for an agency's own ArcFace/SFace file: describe it in a specs TOML (see
:func:`laneface.models.load_specs_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.alignment import template
from laneface.embedding.augment import augmentation, suffix, views
from laneface.embedding.base import l2_normalise, template_crops
from laneface.errors import ConfigError, ModelError
from laneface.models import ModelSpec, OnnxInput, onnx_input, onnx_session
from laneface.types import FaceDetections, TemplateBatch

__all__ = ["OnnxArcFaceEmbedder"]


def _vec(value: object, name: str) -> npt.NDArray[np.float32]:
    try:
        arr = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"preprocessing.{name} must be a number or a list of 3 numbers") from None
    if arr.size not in (1, 3):
        raise ConfigError(f"preprocessing.{name} must be a number or a list of 3 numbers")
    return arr


class OnnxArcFaceEmbedder:
    def __init__(
        self,
        model_path: Path,
        spec: ModelSpec,
        *,
        batch_size: int = 32,
        num_threads: int = 1,
        augment: str = "",
        log_severity: int = 3,
    ) -> None:
        if spec.input_size is None or spec.alignment is None:
            raise ConfigError(f"model {spec.name!r} needs input_size and alignment in its spec")
        self._views = augmentation(augment)
        self.name = spec.name + suffix(augment)
        self.model_version = spec.model_version + suffix(augment)
        self.alignment = template(spec.alignment)
        if tuple(self.alignment.size_wh) != tuple(spec.input_size):
            raise ConfigError(
                f"model {spec.name!r}: input_size {spec.input_size} differs from template {self.alignment.size_wh}"
            )
        pre = spec.preprocessing
        self._bgr = str(pre.get("color", "RGB")).upper() == "BGR"
        self._mean = _vec(pre.get("mean", 127.5), "mean")
        self._std = _vec(pre.get("std", 127.5), "std")
        self._nchw = str(pre.get("layout", "NCHW")).upper() == "NCHW"
        self._session: Any = onnx_session(model_path, num_threads=int(num_threads), log_severity=log_severity)
        first = onnx_input(self._session)
        self._input = first.name
        self._check_input(first, model_path)
        # a model exported with a fixed batch (SFace: 1) is run that many crops at a time
        self._fixed_batch = first.fixed_batch
        self._batch = int(batch_size) if self._fixed_batch is None else self._fixed_batch
        self._dim = spec.embedding_dim
        out_shape = self._session.get_outputs()[0].shape
        declared = out_shape[-1] if out_shape else None
        if self._dim is not None and isinstance(declared, int) and declared > 0 and declared != self._dim:
            raise ConfigError(
                f"model {spec.name!r}: {model_path} outputs {declared}-d templates; the spec says embedding_dim "
                f"{self._dim}"
            )

    def _check_input(self, first: OnnxInput, model_path: Path) -> None:
        """The spec's input size and layout against the shape the file declares (fixed axes only)."""
        w, h = self.alignment.size_wh
        expected = (None, 3, h, w) if self._nchw else (None, h, w, 3)
        if len(first.shape) != 4 or any(
            got is not None and want is not None and got != want
            for got, want in zip(first.shape, expected, strict=True)
        ):
            layout = "NCHW" if self._nchw else "NHWC"
            declared = ["?" if d is None else d for d in first.shape]
            raise ConfigError(
                f"{model_path} takes input {declared}; the spec of {self.name!r} says {layout} "
                f"{['N', *expected[1:]]} (input_size {w}x{h}, preprocessing.layout {layout})"
            )

    def crops(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[npt.NDArray[np.uint8]]:
        return template_crops(image_rgb, detections, self.alignment)

    def _check(self, crops: Sequence[npt.NDArray[np.uint8]]) -> None:
        w, h = self.alignment.size_wh
        for c in crops:
            if c.shape != (h, w, 3) or c.dtype != np.uint8:
                raise ValueError(f"crops must be ({h}, {w}, 3) uint8, got {c.shape} {c.dtype}")

    def _prepare(self, crops: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        x = np.stack(crops).astype(np.float32)
        if self._bgr:
            x = x[..., ::-1]
        x = (x - self._mean) / self._std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if self._nchw else x, dtype=np.float32)

    def _run(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        n = len(x)
        if self._fixed_batch is not None and n < self._fixed_batch:  # pad the last chunk, drop its outputs
            x = np.concatenate([x, np.zeros((self._fixed_batch - n, *x.shape[1:]), np.float32)])
        try:
            out = self._session.run(None, {self._input: x})[0]
        except Exception as exc:  # onnxruntime raises its own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"model {self.name!r} failed on a batch of {len(x)} crops {x.shape}: {first}") from None
        result = np.asarray(out, np.float32).reshape(len(x), -1)[:n]
        if self._dim is not None and result.shape[1] != self._dim:
            raise ModelError(
                f"model {self.name!r} returned {result.shape[1]}-d templates; its spec says embedding_dim {self._dim}"
            )
        return result

    def embed(self, crops_rgb: Sequence[npt.NDArray[np.uint8]]) -> TemplateBatch:
        parts = []
        for start in range(0, len(crops_rgb), self._batch):
            chunk = crops_rgb[start : start + self._batch]
            self._check(chunk)  # before any view is made
            emb = sum(self._run(self._prepare(seen)) for seen in views(chunk, self._views))
            parts.append(np.asarray(emb, np.float32))
        if not parts:
            return TemplateBatch(np.zeros((0, 1), np.float32), self.model_version)
        return TemplateBatch(l2_normalise(np.concatenate(parts)), self.model_version)

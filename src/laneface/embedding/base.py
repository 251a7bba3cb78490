"""The FaceEmbedder protocol: aligned face crops in, L2-normalised templates out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from laneface.alignment import AlignmentTemplate, align_face
from laneface.types import FaceDetections, TemplateBatch

__all__ = ["FaceEmbedder", "embed_detections", "l2_normalise", "template_crops"]


@runtime_checkable
class FaceEmbedder(Protocol):
    """Turns aligned crops (each ``alignment.size_wh``, RGB uint8) into one template each.

    ``model_version`` is stored with every template; templates of different versions are never compared.
    """

    name: str
    model_version: str
    alignment: AlignmentTemplate

    def crops(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[npt.NDArray[np.uint8]]:
        """One aligned crop per detected face, as this recognizer expects it."""
        ...

    def embed(self, crops_rgb: Sequence[npt.NDArray[np.uint8]]) -> TemplateBatch: ...


def l2_normalise(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.asarray(v / np.maximum(norms, 1e-12), dtype=np.float32)


def template_crops(
    image_rgb: npt.NDArray[np.uint8], detections: FaceDetections, tmpl: AlignmentTemplate
) -> list[npt.NDArray[np.uint8]]:
    """Crops aligned by the 5-point similarity transform onto ``tmpl`` (the usual ``crops`` implementation)."""
    return [align_face(image_rgb, lm, tmpl) for lm in detections.landmarks_xy]


def embed_detections(
    embedder: FaceEmbedder, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections
) -> TemplateBatch:
    """Align every detected face as the embedder expects and embed them in one batch."""
    return embedder.embed(embedder.crops(image_rgb, detections))

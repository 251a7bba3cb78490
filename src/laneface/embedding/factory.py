"""Build a FaceEmbedder by model name; backends are imported only when chosen."""

from __future__ import annotations

from laneface.config import EmbeddingSettings
from laneface.embedding.augment import augmentation
from laneface.embedding.base import FaceEmbedder
from laneface.errors import UnknownComponentError
from laneface.models import ModelStore

__all__ = ["build_embedder", "embedder_names"]


def embedder_names(store: ModelStore) -> list[str]:
    return [s.name for s in store.specs if s.kind == "embedder"]


def build_embedder(name: str, store: ModelStore, settings: EmbeddingSettings | None = None) -> FaceEmbedder:
    """``name`` is a model spec of kind "embedder", optionally with ``+flip`` or ``+tta`` (test-time augmentation,
    :mod:`laneface.embedding.augment`)."""
    settings = settings or EmbeddingSettings()
    base_name, _, option = name.partition("+")
    spec = store.spec(base_name)
    if spec.kind != "embedder":
        raise UnknownComponentError(f"{name!r} is not an embedder; embedders: {', '.join(embedder_names(store))}")
    augmentation(option)  # an unknown option is an error before any model is loaded
    located = store.locate(base_name)
    if spec.backend == "dlib-resnet":
        from laneface.embedding.dlib_resnet import DlibResnetEmbedder

        shape5 = store.locate("dlib-shape5").path if settings.refine_landmarks else None
        return DlibResnetEmbedder(
            located.path,
            spec.model_version,
            shape5_path=shape5,
            batch_size=settings.batch_size,
            augment=option,
        )
    if spec.backend == "onnx-arcface":
        from laneface.embedding.onnx_arcface import OnnxArcFaceEmbedder

        return OnnxArcFaceEmbedder(
            located.path,
            spec,
            batch_size=settings.batch_size,
            num_threads=settings.num_threads,
            augment=option,
            log_severity=store.onnx_log_severity,
        )
    raise UnknownComponentError(f"model {base_name!r} has backend {spec.backend!r}, which no embedder reads")

"""Build a FaceEmbedder by model name; backends are imported only when chosen."""

from __future__ import annotations

from laneface.config import EmbeddingSettings
from laneface.embedding.augment import augmentation
from laneface.embedding.base import FaceEmbedder
from laneface.errors import UnknownComponentError
from laneface.models import ModelStore

__all__ = ["EMBEDDER_AUTO_ORDER", "build_embedder", "embedder_names", "resolve_embedder_name"]

#: preference order for "auto", strongest first: the first licence-clean (commercial use) recognizer whose file is
#: present wins; dlib ResNet comes with the PyPI package face_recognition_models.
EMBEDDER_AUTO_ORDER = ("sface", "dlib-resnet")
#: what "auto" falls back to when none of the order is present (its absence is then reported by ``locate``)
EMBEDDER_FALLBACK = "dlib-resnet"


def embedder_names(store: ModelStore) -> list[str]:
    return ["auto", *(s.name for s in store.specs if s.kind == "embedder")]


def resolve_embedder_name(name: str, store: ModelStore) -> str:
    """The embedder that ``name`` stands for: "auto" (optionally with ``+flip``/``+tta``) becomes the first of
    :data:`EMBEDDER_AUTO_ORDER` whose spec is a commercial-use embedder with its file present; any other name
    is returned as given. Templates carry the resolved model's version, never "auto"."""
    base_name, sep, option = name.partition("+")
    if base_name != "auto":
        return name
    chosen = EMBEDDER_FALLBACK
    known = {s.name: s for s in store.specs}
    for candidate in EMBEDDER_AUTO_ORDER:
        spec = known.get(candidate)
        if spec is not None and spec.kind == "embedder" and spec.use == "commercial" and store.find(candidate):
            chosen = candidate
            break
    return chosen + sep + option


def build_embedder(name: str, store: ModelStore, settings: EmbeddingSettings | None = None) -> FaceEmbedder:
    """``name`` is a model spec of kind "embedder" or "auto" (:func:`resolve_embedder_name`), optionally with
    ``+flip`` or ``+tta`` (test-time augmentation, :mod:`laneface.embedding.augment`)."""
    settings = settings or EmbeddingSettings()
    base_name, _, option = resolve_embedder_name(name, store).partition("+")
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

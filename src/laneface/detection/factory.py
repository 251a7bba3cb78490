"""Build a FaceDetector by name from verified model files. Backends are imported only when chosen."""

from __future__ import annotations

from typing import Any

from laneface.config import DetectionSettings
from laneface.detection.base import FaceDetector
from laneface.errors import ModelError, UnknownComponentError
from laneface.models import ModelSpec, ModelStore

__all__ = ["DETECTORS", "ONNX_FAMILIES", "build_detector", "detector_names", "resolve_detector_name"]

#: detector name -> (model spec name or None, default score threshold)
DETECTORS: dict[str, tuple[str | None, float]] = {
    "dlib-hog": (None, 0.5),
    "dlib-mmod": ("dlib-mmod", 0.5),
    "dlib-cascade": ("dlib-mmod", 0.5),  # HOG, then MMOD where HOG finds nothing (one-face images)
    "yunet-n": ("yunet-n", 0.6),
    "yunet": ("yunet", 0.6),
    "yunet-2026may": ("yunet-2026may", 0.6),
    "retinaface": ("retinaface", 0.5),
    "scrfd": ("scrfd", 0.5),
    "scrfd-500m": ("scrfd-500m", 0.5),
    "mtcnn": ("mtcnn-onet", 0.8),  # weights from the mtcnn PyPI package; O-Net's probability
}

#: preference order for "auto", strongest first, licence-clean only (commercial use): the first whose files are
#: present wins; dlib HOG needs only PyPI packages.
AUTO_ORDER = ("yunet-n", "yunet", "retinaface", "dlib-hog")


#: the ONNX families a spec-described detector may name as its ``backend`` (the decoder that reads its outputs),
#: with each family's default score threshold
ONNX_FAMILIES: dict[str, float] = {"yunet": 0.6, "retinaface": 0.5, "scrfd": 0.5}


def detector_names(store: ModelStore) -> list[str]:
    """Every detector name ``build_detector`` accepts: "auto", the built-ins, then detectors from a specs file."""
    extra = [s.name for s in store.specs if s.kind == "detector" and s.backend in ONNX_FAMILIES]
    return ["auto", *DETECTORS, *(n for n in extra if n not in DETECTORS)]


def resolve_detector_name(name: str, store: ModelStore) -> str:
    if name != "auto":
        if name not in detector_names(store):
            raise UnknownComponentError(f"unknown detector {name!r}; known: {', '.join(detector_names(store))}")
        return name
    known = {s.name: s for s in store.specs}
    for candidate in AUTO_ORDER:
        spec_name = DETECTORS[candidate][0]
        if spec_name is None:
            return candidate
        spec = known.get(spec_name)
        if spec is not None and spec.use == "commercial" and store.find(spec_name) is not None:
            return candidate
    return "dlib-hog"


def build_detector(name: str, store: ModelStore, settings: DetectionSettings | None = None) -> FaceDetector:
    """The detector called ``name`` ("auto" picks the best one installed), wrapped for upscale/tiling.

    ``name`` is a built-in (:data:`DETECTORS`) or a model spec of kind "detector" whose backend is one of
    :data:`ONNX_FAMILIES` (e.g. an agency's YuNet export described in a ``--model-specs`` file): its
    ``input_size``, ``score_threshold`` and ``nms_iou`` apply; the settings' score threshold overrides.
    """
    settings = settings or DetectionSettings()
    name = resolve_detector_name(name, store)
    spec_name, default_threshold = DETECTORS.get(name, (name, None))
    spec = store.spec(spec_name) if spec_name is not None else None
    if settings.score_threshold is not None:
        threshold = settings.score_threshold
    elif spec is not None and spec.score_threshold is not None:
        threshold = spec.score_threshold
    elif default_threshold is not None:
        threshold = default_threshold
    else:
        threshold = ONNX_FAMILIES[spec.backend] if spec is not None else 0.5
    base: FaceDetector
    if name == "dlib-cascade":
        from laneface.detection.cascade import CascadeDetector
        from laneface.detection.dlib_backend import DlibDetector

        shape5 = store.locate("dlib-shape5").path
        base = CascadeDetector(
            DlibDetector("hog", shape5, score_threshold=threshold),
            DlibDetector("mmod", shape5, mmod_path=store.locate("dlib-mmod").path, score_threshold=threshold),
            name=name,
        )
    elif name.startswith("dlib-"):
        from laneface.detection.dlib_backend import DlibDetector

        shape5 = store.locate("dlib-shape5").path
        mmod = store.locate("dlib-mmod").path if name == "dlib-mmod" else None
        base = DlibDetector(name.removeprefix("dlib-"), shape5, mmod_path=mmod, score_threshold=threshold)
    elif name == "mtcnn":
        from laneface.detection.mtcnn import MtcnnDetector

        base = MtcnnDetector.from_files(
            *(store.locate(f"mtcnn-{net}").path for net in ("pnet", "rnet", "onet")),
            score_threshold=threshold,
            min_face_px=settings.min_face_px,
            num_threads=settings.num_threads,
            name=name,
        )
    elif spec is not None and spec.backend in ONNX_FAMILIES:
        base = _onnx_detector(name, spec, store, threshold, settings.num_threads)
    else:  # pragma: no cover - DETECTORS and this chain are kept in step by test_factory
        raise ModelError(f"no backend for detector {name!r}")
    if settings.upscale == 1.0 and settings.tile_size == 0:
        return base
    from laneface.detection.scaling import ScaledTiledDetector

    return ScaledTiledDetector(
        base, upscale=settings.upscale, tile_size=settings.tile_size, overlap=settings.tile_overlap
    )


def _onnx_detector(name: str, spec: ModelSpec, store: ModelStore, threshold: float, num_threads: int) -> FaceDetector:
    """The family's decoder on the spec's verified file (the spec decides the input size and NMS IoU)."""
    path = store.locate(spec.name).path
    options: dict[str, Any] = {"score_threshold": threshold, "num_threads": num_threads, "name": name}
    if spec.nms_iou is not None:  # else the decoder's own default
        options["nms_iou"] = spec.nms_iou
    if spec.backend == "yunet":  # any input size: OpenCV resizes the network to each image
        from laneface.detection.yunet import YuNetDetector

        return YuNetDetector(path, **options)
    options["log_severity"] = store.onnx_log_severity
    if spec.input_size is not None:
        options["input_size"] = spec.input_size
    if spec.backend == "retinaface":
        from laneface.detection.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(path, **options)
    from laneface.detection.scrfd import ScrfdDetector

    return ScrfdDetector(path, **options)

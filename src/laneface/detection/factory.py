"""Build a FaceDetector by name from verified model files. Backends are imported only when chosen."""

from __future__ import annotations

from laneface.config import DetectionSettings
from laneface.detection.base import FaceDetector
from laneface.errors import ModelError, UnknownComponentError
from laneface.models import ModelStore

__all__ = ["DETECTORS", "build_detector", "resolve_detector_name"]

#: detector name -> (model spec name or None, default score threshold)
DETECTORS: dict[str, tuple[str | None, float]] = {
    "dlib-hog": (None, 0.5),
    "dlib-mmod": ("dlib-mmod", 0.5),
    "dlib-cascade": ("dlib-mmod", 0.5),  # HOG, then MMOD where HOG finds nothing (one-face images)
    "yunet": ("yunet", 0.6),
    "yunet-2026may": ("yunet-2026may", 0.6),
    "retinaface": ("retinaface", 0.5),
    "scrfd": ("scrfd", 0.5),
    "scrfd-500m": ("scrfd-500m", 0.5),
}

#: preference order for "auto": the first whose files are present wins; dlib HOG needs only PyPI packages.
AUTO_ORDER = ("yunet", "retinaface", "dlib-hog")


def resolve_detector_name(name: str, store: ModelStore) -> str:
    if name != "auto":
        if name not in DETECTORS:
            raise UnknownComponentError(f"unknown detector {name!r}; known: auto, {', '.join(DETECTORS)}")
        return name
    for candidate in AUTO_ORDER:
        spec_name = DETECTORS[candidate][0]
        if spec_name is None or store.find(spec_name) is not None:
            return candidate
    return "dlib-hog"


def build_detector(name: str, store: ModelStore, settings: DetectionSettings | None = None) -> FaceDetector:
    """The detector called ``name`` ("auto" picks the best one installed), wrapped for upscale/tiling."""
    settings = settings or DetectionSettings()
    name = resolve_detector_name(name, store)
    spec_name, default_threshold = DETECTORS[name]
    threshold = settings.score_threshold if settings.score_threshold is not None else default_threshold
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
    elif name.startswith("yunet"):
        from laneface.detection.yunet import YuNetDetector

        base = YuNetDetector(
            store.locate(str(spec_name)).path, score_threshold=threshold, num_threads=settings.num_threads, name=name
        )
    elif name == "retinaface":
        from laneface.detection.retinaface import RetinaFaceDetector

        base = RetinaFaceDetector(
            store.locate("retinaface").path, score_threshold=threshold, num_threads=settings.num_threads
        )
    elif name.startswith("scrfd"):
        from laneface.detection.scrfd import ScrfdDetector

        base = ScrfdDetector(
            store.locate(str(spec_name)).path, score_threshold=threshold, num_threads=settings.num_threads, name=name
        )
    else:  # pragma: no cover - DETECTORS and this chain are kept in step by test_factory
        raise ModelError(f"no backend for detector {name!r}")
    if settings.upscale == 1.0 and settings.tile_size == 0:
        return base
    from laneface.detection.scaling import ScaledTiledDetector

    return ScaledTiledDetector(
        base, upscale=settings.upscale, tile_size=settings.tile_size, overlap=settings.tile_overlap
    )

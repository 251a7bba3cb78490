"""`laneface models check`: is a model (built-in or from a specs file) usable, and how well does it verify?

:func:`check_model` loads the model through the same factories as every command, runs it once and checks
what comes out: an embedder embeds a batch of synthetic crops, which must give ``embedding_dim`` finite unit
vectors equal to those of the crops embedded one at a time (fixed-batch exports are run a batch at a time); a
detector decodes an image (a blank one gives no faces) into consistent boxes, landmarks and scores.

:func:`check_on_lfw` runs one fold of the LFW View-2 pairs (or its first ``limit`` pairs) with a detector and
an embedder, reports the verification accuracy on that fold (threshold fitted on the same fold, so it reads
optimistic), and calibrates thresholds for the embedder's model version from every cross-identity pair of the
fold's images, exactly as ``laneface calibrate --lfw-dir`` does on the whole directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.config import Settings
from laneface.detection.base import FaceDetector
from laneface.detection.factory import build_detector
from laneface.embedding.base import FaceEmbedder
from laneface.embedding.factory import build_embedder
from laneface.errors import LanefaceError, ModelError
from laneface.evaluation.lfw import LfwResult, evaluate_pairs_templates
from laneface.evaluation.lfw_embeddings import embed_lfw
from laneface.evaluation.onen import calibrate_from_lfw
from laneface.evaluation.pairs import lfw_image_path, one_fold, parse_pairs
from laneface.gallery.thresholds import ThresholdSet
from laneface.models import ModelStore

__all__ = ["LfwCheck", "ModelCheck", "check_model", "check_on_lfw"]

CHECK_CROPS = 3  # a batch larger than one, so batching (and fixed-batch exports) is exercised
BLANK_WH = (640, 480)


@dataclass(frozen=True)
class ModelCheck:
    """What :func:`check_model` found. ``output`` describes the output in words."""

    name: str
    kind: str
    model_version: str  # embedder: stored with templates; detector: the spec's
    path: str
    load_seconds: float
    run_seconds: float
    output: str
    embedding_dim: int | None = None
    faces: int | None = None


@dataclass(frozen=True)
class LfwCheck:
    """One fold of LFW pairs: accuracy (threshold fitted on the fold) and the thresholds calibrated from it."""

    result: LfwResult
    fold: int
    thresholds: ThresholdSet


def check_model(
    name: str, store: ModelStore, settings: Settings, *, image_rgb: npt.NDArray[np.uint8] | None = None
) -> ModelCheck:
    """Load model ``name`` and run it once; a :class:`~laneface.errors.ModelError` says what is wrong."""
    spec = store.spec(name)
    path = str(store.locate(name).path)  # missing file or wrong sha256: clear errors before any backend
    started = time.perf_counter()
    if spec.kind == "embedder":
        embedder = build_embedder(name, store, settings.embedding)
        loaded = time.perf_counter()
        dim = _check_embedder(embedder, spec.embedding_dim)
        return ModelCheck(
            name,
            spec.kind,
            embedder.model_version,
            path,
            loaded - started,
            time.perf_counter() - loaded,
            f"{CHECK_CROPS} crops -> {CHECK_CROPS} x {dim} unit templates, same as one crop at a time",
            embedding_dim=dim,
        )
    if spec.kind == "detector":
        detector = build_detector(name, store, settings.detection)
        loaded = time.perf_counter()
        blank = image_rgb is None
        image = np.full((BLANK_WH[1], BLANK_WH[0], 3), 128, np.uint8) if image_rgb is None else image_rgb
        faces = _check_detector(detector, image)
        what = f"blank {BLANK_WH[0]}x{BLANK_WH[1]} image" if blank else f"{image.shape[1]}x{image.shape[0]} image"
        return ModelCheck(
            name,
            spec.kind,
            spec.model_version,
            path,
            loaded - started,
            time.perf_counter() - loaded,
            f"{faces} faces on a {what}",
            faces=faces,
        )
    raise ModelError(f"model {name!r} is a {spec.kind} model; `models check` checks detectors and embedders")


def _check_embedder(embedder: FaceEmbedder, expected_dim: int | None) -> int:
    w, h = embedder.alignment.size_wh
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(CHECK_CROPS)]
    batch = embedder.embed(crops)
    v = np.asarray(batch.vectors)
    if v.ndim != 2 or v.shape[0] != CHECK_CROPS:
        raise ModelError(f"{embedder.name}: {CHECK_CROPS} crops gave templates of shape {v.shape}")
    dim = int(v.shape[1])
    if expected_dim is not None and dim != expected_dim:
        raise ModelError(f"{embedder.name}: templates are {dim}-d; its spec says embedding_dim {expected_dim}")
    if not np.isfinite(v).all() or not np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3):
        raise ModelError(f"{embedder.name}: templates are not finite unit vectors")
    single = np.concatenate([np.asarray(embedder.embed([c]).vectors) for c in crops])
    if not np.allclose(single, v, atol=1e-4):
        raise ModelError(f"{embedder.name}: a batch gives other templates than one crop at a time")
    return dim


def _check_detector(detector: FaceDetector, image: npt.NDArray[np.uint8]) -> int:
    try:
        dets = detector.detect(image)
    except LanefaceError:
        raise
    except Exception as exc:  # a decoder that does not fit the model's outputs fails in numpy or onnxruntime
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{detector.name}: the detector failed on a {image.shape} image: {first}") from None
    if not (np.isfinite(dets.boxes_xyxy).all() and np.isfinite(dets.landmarks_xy).all()):
        raise ModelError(f"{detector.name}: boxes or landmarks are not finite")
    return len(dets)


def check_on_lfw(
    lfw_dir: Path,
    pairs_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    *,
    fold: int = 0,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LfwCheck:
    """Fold ``fold`` of ``pairs_path`` (its first ``limit`` pairs if given): accuracy and calibrated thresholds."""
    pairs_file = one_fold(parse_pairs(pairs_path), fold, limit)
    keys = sorted({(p.name_a, p.index_a) for p in pairs_file.pairs} | {(p.name_b, p.index_b) for p in pairs_file.pairs})
    files = [lfw_image_path(lfw_dir, n, i).relative_to(lfw_dir).as_posix() for n, i in keys]
    templates = embed_lfw(lfw_dir, files, detector, embedder, progress=progress)
    if not templates.acquired.any():
        raise ModelError(f"no face was acquired in the {len(files)} LFW images of fold {fold}: nothing to compare")
    result, _ = evaluate_pairs_templates(
        lfw_dir,
        pairs_file,
        templates.files,
        templates.vectors,
        templates.acquired,
        detector=detector.name,
        model_version=embedder.model_version,
        source=f"{pairs_path} fold {fold}",
    )
    size = f"first {len(pairs_file.pairs)} pairs of " if limit is not None else ""
    thresholds = calibrate_from_lfw(templates, f"LFW {size}fold {fold} of {pairs_path.name}")
    return LfwCheck(result, fold, thresholds)

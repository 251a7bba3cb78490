"""LFW View-2 verification protocol (or any pairs file in its format) for one detector x embedder pair.

Each distinct image is read, the face nearest the image centre is detected, aligned and embedded once;
each pair is scored by the cosine similarity (dot product of L2-normalised templates). A pair with an
image where no face was found is a **failure to acquire**: its score is ``-inf`` (it never matches) and
it counts as an error in the accuracy whatever its label. Nothing is dropped silently.

``workers > 1`` spreads the images over that many processes, each building its own detector and recognizer
from a picklable :class:`StackRecipe`; every image is embedded on its own, so the templates (and the result)
are those of a single process.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.embedding.augment import option_of, suffix
from laneface.embedding.base import FaceEmbedder
from laneface.errors import InvalidDatasetError, InvalidImageError
from laneface.evaluation.metrics import RocCurve, eer, kfold_accuracy, roc_curve, tar_at_far
from laneface.evaluation.pairs import PairsFile, lfw_image_path, parse_pairs
from laneface.imageio import read_image
from laneface.types import FaceDetections

if TYPE_CHECKING:
    from laneface.config import Settings

__all__ = [
    "LfwResult",
    "StackRecipe",
    "central_face",
    "evaluate_lfw",
    "evaluate_lfw_templates",
    "evaluate_pairs_templates",
    "score_pairs",
    "write_result",
]

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LfwResult:
    """Figures of one LFW run. Rates are fractions in [0, 1]; times in seconds."""

    detector: str
    embedder: str
    model_version: str
    pairs: int
    folds: int
    images: int
    fta_images: int  # distinct images where no face was acquired
    fta_pairs: int  # pairs that include such an image (counted as errors)
    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    tar_at_far_1e3: float
    tar_at_far_1e2: float
    threshold_at_far_1e3: float
    eer: float
    eer_threshold: float
    seconds: float
    fta_files: list[str] = field(default_factory=list)


def central_face(detections: FaceDetections, width: int, height: int) -> int | None:
    """Index of the face LFW is about: the largest face near the centre (centre distance / size)."""
    if len(detections) == 0:
        return None
    b = detections.boxes_xyxy
    centres = (b[:, :2] + b[:, 2:]) / 2.0
    size = np.sqrt(np.maximum(1.0, (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))
    dist = np.linalg.norm(centres - np.array([width / 2.0, height / 2.0]), axis=1)
    return int(np.argmin(dist / size - 0.01 * detections.scores))


def _embed_images(
    paths: list[Path], detector: FaceDetector, embedder: FaceEmbedder, progress: Progress | None, batch: int = 32
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    vectors: list[npt.NDArray[np.float32] | None] = [None] * len(paths)
    pending: list[tuple[int, npt.NDArray[np.uint8]]] = []

    def flush() -> None:
        if pending:
            tb = embedder.embed([crop for _, crop in pending])
            for (i, _), v in zip(pending, tb.vectors, strict=True):
                vectors[i] = v
            pending.clear()

    for i, path in enumerate(paths):
        try:
            image = read_image(path)
        except InvalidImageError as exc:
            raise InvalidDatasetError(f"LFW image {path} cannot be read: {exc}") from None
        dets = detector.detect(image)
        k = central_face(dets, image.shape[1], image.shape[0])
        if k is not None:
            pending.append((i, embedder.crops(image, dets[k : k + 1])[0]))
        if len(pending) >= batch:
            flush()
        if progress is not None:
            progress(i + 1, len(paths))
    flush()
    acquired = np.array([v is not None for v in vectors], dtype=bool)
    dim = next((len(v) for v in vectors if v is not None), 1)
    out = np.zeros((len(paths), dim), np.float32)
    for i, v in enumerate(vectors):
        if v is not None:
            out[i] = v
    return out, acquired


@dataclass(frozen=True)
class StackRecipe:
    """How a worker process builds the detector and recognizer (names as on the command line)."""

    detector: str
    embedder: str
    settings: Settings

    def build(self) -> tuple[FaceDetector, FaceEmbedder]:
        from laneface.detection.factory import build_detector
        from laneface.embedding.factory import build_embedder
        from laneface.models import ModelStore

        store = ModelStore.from_settings(self.settings)
        return (
            build_detector(self.detector, store, self.settings.detection),
            build_embedder(self.embedder, store, self.settings.embedding),
        )


_worker_stack: tuple[FaceDetector, FaceEmbedder] | None = None


def _worker_init(recipe: StackRecipe) -> None:
    global _worker_stack
    _worker_stack = recipe.build()


def _worker_embed(paths: list[Path]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    if _worker_stack is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("LFW worker used before its initializer")
    return _embed_images(paths, *_worker_stack, None)


def _embed_images_parallel(
    paths: list[Path], recipe: StackRecipe, workers: int, progress: Progress | None, chunk: int = 32
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    vectors: list[npt.NDArray[np.float32]] = []
    acquired: list[npt.NDArray[np.bool_]] = []
    done = 0
    # spawn, not fork: the parent may already run onnxruntime/dlib threads, which a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init, initargs=(recipe,)) as pool:
        for vec, acq in pool.map(_worker_embed, chunks):
            vectors.append(vec)
            acquired.append(acq)
            done += len(acq)
            if progress is not None:
                progress(done, len(paths))
    dim = max((v.shape[1] for v, a in zip(vectors, acquired, strict=True) if a.any()), default=1)
    out = np.zeros((len(paths), dim), np.float32)
    start = 0
    for v, a in zip(vectors, acquired, strict=True):
        if a.any():
            out[start : start + len(a)] = v
        start += len(a)
    return out, np.concatenate(acquired) if acquired else np.zeros(0, bool)


def score_pairs(
    pairs_file: PairsFile,
    index: dict[tuple[str, int], int],
    vectors: npt.NDArray[np.float32],
    acquired: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Scores (cosine; -inf for FTA), labels (mated), FTA flags and fold ids, one per pair."""
    n = len(pairs_file.pairs)
    scores = np.empty(n)
    labels = np.empty(n, bool)
    fta = np.empty(n, bool)
    folds = np.empty(n, np.int64)
    for j, p in enumerate(pairs_file.pairs):
        a, b = index[(p.name_a, p.index_a)], index[(p.name_b, p.index_b)]
        fta[j] = not (acquired[a] and acquired[b])
        scores[j] = -np.inf if fta[j] else float(vectors[a] @ vectors[b])
        labels[j] = p.mated
        folds[j] = p.fold
    return scores, labels, fta, folds


def evaluate_lfw(
    lfw_dir: Path,
    pairs_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    *,
    progress: Progress | None = None,
    workers: int = 1,
    recipe: StackRecipe | None = None,
) -> tuple[LfwResult, RocCurve]:
    """``workers > 1`` needs the ``recipe`` that builds ``detector`` and ``embedder`` in each worker process."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers > 1 and recipe is None:
        raise ValueError("workers > 1 needs the StackRecipe that builds the detector and recognizer")
    started = time.perf_counter()
    pairs_file = parse_pairs(pairs_path)
    if pairs_file.folds < 2:
        log.info("pairs file has one fold: accuracy uses a threshold fitted on that same fold")
    keys = sorted({(p.name_a, p.index_a) for p in pairs_file.pairs} | {(p.name_b, p.index_b) for p in pairs_file.pairs})
    paths = [lfw_image_path(lfw_dir, name, idx) for name, idx in keys]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InvalidDatasetError(f"{len(missing)} images named in {pairs_path} are missing, e.g. {missing[0]}")
    if workers > 1 and recipe is not None:
        vectors, acquired = _embed_images_parallel(paths, recipe, workers, progress)
    else:
        vectors, acquired = _embed_images(paths, detector, embedder, progress)
    return _score(
        pairs_file, keys, paths, vectors, acquired, detector.name, embedder.name, embedder.model_version, started
    )


def evaluate_lfw_templates(
    lfw_dir: Path,
    pairs_path: Path,
    files: Sequence[str],
    vectors: npt.NDArray[np.float32],
    acquired: npt.NDArray[np.bool_],
    *,
    detector: str,
    model_version: str,
) -> tuple[LfwResult, RocCurve]:
    """The same protocol on templates computed before (``files`` relative to ``lfw_dir``, e.g. the cache
    of ``laneface bench onen``): every image the pairs name must be among ``files``."""
    return evaluate_pairs_templates(
        lfw_dir,
        parse_pairs(pairs_path),
        files,
        vectors,
        acquired,
        detector=detector,
        model_version=model_version,
        source=str(pairs_path),
    )


def evaluate_pairs_templates(
    lfw_dir: Path,
    pairs_file: PairsFile,
    files: Sequence[str],
    vectors: npt.NDArray[np.float32],
    acquired: npt.NDArray[np.bool_],
    *,
    detector: str,
    model_version: str,
    source: str = "the pairs file",
) -> tuple[LfwResult, RocCurve]:
    """:func:`evaluate_lfw_templates` on pairs already parsed (e.g. one fold, ``pairs.one_fold``)."""
    started = time.perf_counter()
    keys = sorted({(p.name_a, p.index_a) for p in pairs_file.pairs} | {(p.name_b, p.index_b) for p in pairs_file.pairs})
    paths = [lfw_image_path(lfw_dir, name, idx) for name, idx in keys]
    row = {f: i for i, f in enumerate(files)}
    wanted = [p.relative_to(lfw_dir).as_posix() for p in paths]
    absent = [w for w in wanted if w not in row]
    if absent:
        raise InvalidDatasetError(f"{len(absent)} images named in {source} have no template, e.g. {absent[0]}")
    take = np.array([row[w] for w in wanted], np.int64)
    embedder = model_version.split("@", 1)[0] + suffix(option_of(model_version))  # e.g. dlib-resnet+tta
    return _score(pairs_file, keys, paths, vectors[take], acquired[take], detector, embedder, model_version, started)


def _score(
    pairs_file: PairsFile,
    keys: list[tuple[str, int]],
    paths: list[Path],
    vectors: npt.NDArray[np.float32],
    acquired: npt.NDArray[np.bool_],
    detector: str,
    embedder: str,
    model_version: str,
    started: float,
) -> tuple[LfwResult, RocCurve]:
    index = {k: i for i, k in enumerate(keys)}
    scores, labels, fta, folds = score_pairs(pairs_file, index, vectors, acquired)
    if pairs_file.folds >= 2:
        kf = kfold_accuracy(scores, labels, folds, forced_errors=fta)
        acc_mean, acc_std, fold_acc = kf.mean, kf.std, [float(a) for a in kf.accuracies]
    else:
        acc_mean, acc_std, fold_acc = _single_fold_accuracy(scores, labels, fta), 0.0, []
    genuine, impostor = scores[labels], scores[~labels]
    tar3, thr3 = tar_at_far(genuine, impostor, 1e-3)
    tar2, _ = tar_at_far(genuine, impostor, 1e-2)
    e, e_thr = eer(genuine, impostor)
    result = LfwResult(
        detector=detector,
        embedder=embedder,
        model_version=model_version,
        pairs=len(pairs_file.pairs),
        folds=pairs_file.folds,
        images=len(paths),
        fta_images=int((~acquired).sum()),
        fta_pairs=int(fta.sum()),
        accuracy_mean=float(acc_mean),
        accuracy_std=float(acc_std),
        fold_accuracies=fold_acc,
        tar_at_far_1e3=float(tar3),
        tar_at_far_1e2=float(tar2),
        threshold_at_far_1e3=float(thr3),
        eer=float(e),
        eer_threshold=float(e_thr),
        seconds=time.perf_counter() - started,
        fta_files=[str(paths[i]) for i in np.flatnonzero(~acquired)],
    )
    return result, roc_curve(genuine, impostor)


def _single_fold_accuracy(
    scores: npt.NDArray[np.float64], labels: npt.NDArray[np.bool_], fta: npt.NDArray[np.bool_]
) -> float:
    finite = np.unique(scores[np.isfinite(scores)])
    candidates = np.concatenate([[-np.inf], (finite[:-1] + finite[1:]) / 2 if len(finite) > 1 else finite, [np.inf]])
    best = 0.0
    for t in candidates:
        correct = ((scores >= t) & np.isfinite(scores)) == labels
        best = max(best, float((correct & ~fta).mean()))
    return best


def write_result(result: LfwResult, curve: RocCurve, out_dir: Path) -> tuple[Path, Path]:
    """Write ``lfw_<detector>_<embedder>.json`` and a DET plot PNG into ``out_dir``."""
    from laneface.evaluation.plots import save_det_plot

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"lfw_{result.detector}_{result.embedder}".replace("/", "_")
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    png = save_det_plot(
        {f"{result.detector} + {result.embedder}": curve},
        out_dir / f"{stem}_det.png",
        f"LFW DET: {result.detector} + {result.embedder}",
    )
    return json_path, png

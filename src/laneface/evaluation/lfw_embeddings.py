"""LFW images embedded once per (detector, embedder), cached in a ``.npz`` file.

The calibration (``laneface calibrate --lfw-dir``) and the open-set 1:N benchmark (``laneface bench onen``)
both need a template for every LFW image; embedding 13,233 images takes minutes (ONNX) to an hour (dlib
ResNet on a busy 2-core machine), so the templates are computed once and written to a cache file,
checkpointed every ``checkpoint`` images: an interrupted run resumes where it stopped.

The face used in each image is the one LFW is about: :func:`laneface.evaluation.lfw.central_face`. An image
without a face is a failure to acquire (``acquired[i] = False``, zero vector); it is kept, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.embedding.base import FaceEmbedder
from laneface.errors import InvalidDatasetError, InvalidImageError
from laneface.evaluation.lfw import central_face
from laneface.imageio import read_image

__all__ = ["LfwEmbeddings", "LfwErratum", "embed_lfw", "lfw_errata", "lfw_image_list", "without_label_errors"]

log = logging.getLogger(__name__)


def lfw_image_list(lfw_dir: Path) -> list[str]:
    """Every ``Name/Name_0001.jpg`` under ``lfw_dir``, sorted (identity = the folder name)."""
    files = sorted(p.relative_to(lfw_dir).as_posix() for p in lfw_dir.glob("*/*.jpg"))
    if not files:
        raise InvalidDatasetError(f"no LFW images (*/*.jpg) under {lfw_dir}")
    return files


@dataclass(frozen=True, eq=False)
class LfwEmbeddings:
    """One template per LFW image. ``vectors[i]`` is zero where ``acquired[i]`` is False (no face)."""

    files: tuple[str, ...]  # "Name/Name_0001.jpg"
    vectors: npt.NDArray[np.float32]  # (n, d), L2-normalised where acquired
    acquired: npt.NDArray[np.bool_]  # (n,)
    model_version: str
    detector: str

    @property
    def identities(self) -> tuple[str, ...]:
        return tuple(f.split("/", 1)[0] for f in self.files)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            files=np.array(self.files),
            vectors=self.vectors,
            acquired=self.acquired,
            meta=np.array(json.dumps({"model_version": self.model_version, "detector": self.detector})),
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LfwEmbeddings:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(
                files=tuple(str(f) for f in z["files"]),
                vectors=np.asarray(z["vectors"], np.float32),
                acquired=np.asarray(z["acquired"], bool),
                model_version=str(meta["model_version"]),
                detector=str(meta["detector"]),
            )


@dataclass(frozen=True)
class LfwErratum:
    """LFW images that show a person who is in LFW under another name (``laneface/data/lfw_errata.toml``)."""

    files: tuple[str, ...]
    reason: str


def lfw_errata() -> tuple[LfwErratum, ...]:
    """The shipped list of LFW label errors (the file's comment says how it was made)."""
    import tomllib
    from importlib.resources import files

    data = tomllib.loads(files("laneface").joinpath("data", "lfw_errata.toml").read_text(encoding="utf-8"))
    return tuple(LfwErratum(tuple(str(f) for f in e["files"]), str(e["reason"])) for e in data["errata"])


def without_label_errors(emb: LfwEmbeddings, errata: Sequence[LfwErratum] | None = None) -> tuple[LfwEmbeddings, int]:
    """``emb`` without the images of ``errata`` (default: :func:`lfw_errata`), and how many were left out."""
    drop = {f for e in (lfw_errata() if errata is None else errata) for f in e.files}
    keep = np.array([f not in drop for f in emb.files], dtype=bool)
    removed = int((~keep).sum())
    if not removed:
        return emb, 0
    kept = LfwEmbeddings(
        files=tuple(f for f, k in zip(emb.files, keep, strict=True) if k),
        vectors=emb.vectors[keep],
        acquired=emb.acquired[keep],
        model_version=emb.model_version,
        detector=emb.detector,
    )
    return kept, removed


def _files_key(files: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]


def embed_lfw(
    lfw_dir: Path,
    files: Sequence[str],
    detector: FaceDetector,
    embedder: FaceEmbedder,
    *,
    cache: Path | None = None,
    checkpoint: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> LfwEmbeddings:
    """Templates of ``files`` (relative to ``lfw_dir``), reusing/resuming ``cache`` when it matches.

    A cache made by another model version, detector or file list is not reused (it is overwritten).
    """
    files = list(files)
    key = _files_key(files)
    partial = cache.with_name(cache.name + f".partial-{key}.npz") if cache is not None else None
    if cache is not None and cache.is_file():
        cached = LfwEmbeddings.load(cache)
        if (
            list(cached.files) == files
            and cached.model_version == embedder.model_version
            and cached.detector == detector.name
        ):
            log.info("using cached LFW templates %s", cache)
            return cached
    done: LfwEmbeddings | None = None
    if partial is not None and partial.is_file():
        done = LfwEmbeddings.load(partial)
        if done.model_version != embedder.model_version or done.detector != detector.name:
            done = None
    vectors: list[npt.NDArray[np.float32]] = [] if done is None else list(done.vectors)
    acquired: list[bool] = [] if done is None else [bool(a) for a in done.acquired]
    dim = 0 if done is None else int(done.vectors.shape[1])

    def snapshot(n: int) -> LfwEmbeddings:
        width = dim or 1
        arr = np.zeros((n, width), np.float32)
        for i, v in enumerate(vectors[:n]):
            if acquired[i]:
                arr[i] = v
        return LfwEmbeddings(tuple(files[:n]), arr, np.array(acquired[:n], bool), embedder.model_version, detector.name)

    start = len(vectors)
    for i in range(start, len(files)):
        path = lfw_dir / files[i]
        try:
            image = read_image(path)
        except (InvalidImageError, OSError) as exc:
            raise InvalidDatasetError(f"LFW image {path} cannot be read: {exc}") from None
        dets = detector.detect(image)
        k = central_face(dets, image.shape[1], image.shape[0])
        if k is None:
            vectors.append(np.zeros((max(dim, 1),), np.float32))
            acquired.append(False)
        else:
            vec = embedder.embed(embedder.crops(image, dets[k])).vectors[0]
            if dim == 0:
                dim = int(vec.shape[0])
                vectors = [np.zeros((dim,), np.float32) if not a else v for v, a in zip(vectors, acquired, strict=True)]
            vectors.append(np.asarray(vec, np.float32))
            acquired.append(True)
        if progress is not None:
            progress(i + 1, len(files))
        if partial is not None and (i + 1) % checkpoint == 0:
            snapshot(i + 1).save(partial)
    result = snapshot(len(files))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        result.save(cache)
        if partial is not None and partial.exists():
            partial.unlink()
    return result

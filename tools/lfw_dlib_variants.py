"""dlib ResNet on LFW View-2, several ways of scoring the same descriptors (the table under "dlib ResNet stays
below the expected 99.0%" in docs/benchmarks.md).

    python tools/lfw_dlib_variants.py descriptors out/lfw/dlib_raw.npz [--detector retinaface]
    python tools/lfw_dlib_variants.py score out/lfw/dlib_raw.npz

``descriptors`` stores, for every image the pairs name, dlib's raw descriptor of the face chip (dlib's 5-point
refinement, as ``laneface eval lfw -e dlib-resnet``) and of the mirrored chip; resumable. ``score`` runs the
10-fold protocol of ``laneface eval lfw`` on cosine and Euclidean scorings of them.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from laneface.config import load_settings
from laneface.evaluation.metrics import kfold_accuracy
from laneface.evaluation.pairs import lfw_image_path, parse_pairs

log = logging.getLogger("lfw-dlib")
LFW = Path("../shared/data/lfw/lfw-deepfunneled")
PAIRS = Path("../shared/data/lfw/pairs.txt")


def _keys() -> list[tuple[str, int]]:
    pairs = parse_pairs(PAIRS)
    return sorted({(p.name_a, p.index_a) for p in pairs.pairs} | {(p.name_b, p.index_b) for p in pairs.pairs})


def descriptors(out: Path, detector_name: str, models_dir: Path) -> None:
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.lfw import central_face
    from laneface.imageio import read_image
    from laneface.models import ModelStore

    settings = load_settings(models__models_dir=str(models_dir))
    store = ModelStore.from_settings(settings)
    detector = build_detector(detector_name, store, settings.detection)
    embedder = build_embedder("dlib-resnet", store, settings.embedding)
    net = embedder._net  # type: ignore[attr-defined]  # the raw descriptors, before the normalisation
    keys = _keys()
    n = len(keys)
    raw, ok, done = np.zeros((n, 2, 128), np.float32), np.zeros(n, bool), np.zeros(n, bool)
    if out.exists():
        z = np.load(out)
        raw, ok, done = z["raw"], z["ok"], z["done"]
    started = time.time()
    for i, (name, idx) in enumerate(keys):
        if done[i]:
            continue
        image = read_image(lfw_image_path(LFW, name, idx))
        dets = detector.detect(image)
        k = central_face(dets, image.shape[1], image.shape[0])
        if k is not None:
            chip = embedder.crops(image, dets[k : k + 1])[0]
            raw[i, 0] = np.asarray(net.compute_face_descriptor(chip), np.float32)
            raw[i, 1] = np.asarray(net.compute_face_descriptor(np.ascontiguousarray(chip[:, ::-1])), np.float32)
            ok[i] = True
        done[i] = True
        if i % 200 == 0 or i == n - 1:
            tmp = out.with_suffix(".tmp.npz")
            np.savez(tmp, raw=raw, ok=ok, done=done, keys=np.array([f"{a}/{b}" for a, b in keys]))
            tmp.replace(out)
            log.info("%d / %d images, %.0f s", i + 1, n, time.time() - started)


def score(path: Path) -> None:
    z = np.load(path)
    raw, ok = z["raw"], z["ok"]
    if not z["done"].all():
        raise SystemExit(f"{path}: not every image has its descriptor yet")
    index = {k: i for i, k in enumerate(_keys())}
    pairs = parse_pairs(PAIRS)
    a = np.array([index[(p.name_a, p.index_a)] for p in pairs.pairs])
    b = np.array([index[(p.name_b, p.index_b)] for p in pairs.pairs])
    labels = np.array([p.mated for p in pairs.pairs])
    folds = np.array([p.fold for p in pairs.pairs])
    fta = ~(ok[a] & ok[b])

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)

    chip, mirrored = raw[:, 0], raw[:, 1]
    variants = {
        "cosine, chip only": (unit(chip), "cos"),
        "cosine, chip + mirrored chip (dlib-resnet+flip)": (unit(chip + mirrored), "cos"),
        "cosine, each L2-normalised before the sum": (unit(unit(chip) + unit(mirrored)), "cos"),
        "Euclidean on raw descriptors, chip only": (chip, "euclid"),
        "Euclidean, mean of chip and mirrored chip": ((chip + mirrored) / 2, "euclid"),
    }
    for name, (v, kind) in variants.items():
        s = np.sum(v[a] * v[b], axis=1) if kind == "cos" else -np.linalg.norm(v[a] - v[b], axis=1)
        kf = kfold_accuracy(np.where(fta, -np.inf, s), labels, folds, forced_errors=fta)
        log.info(
            "%-50s %.2f %% +- %.2f  (~%d errors)", name, 100 * kf.mean, 100 * kf.std, round((1 - kf.mean) * len(s))
        )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("descriptors", "score"))
    parser.add_argument("npz", type=Path)
    parser.add_argument("--detector", default="retinaface")
    parser.add_argument("--models-dir", type=Path, default=Path("../shared/models"))
    args = parser.parse_args()
    if args.step == "descriptors":
        descriptors(args.npz, args.detector, args.models_dir)
    else:
        score(args.npz)


if __name__ == "__main__":
    main()

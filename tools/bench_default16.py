"""Detector candidates for the no-download default (docs/benchmarks.md, issue 16 item 2): recall on small, dark, tinted
and blurred faces, false detections, CPU ms per 960x540 frame.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 nice -n 19 python tools/bench_default16.py \\
        --lfw-dir ../shared/data/lfw/lfw-deepfunneled --detectors dlib-hog,mtcnn,yunet --faces 30

Frames are those of ``laneface bench detect`` (an LFW face scaled to an inter-eye distance, pasted into a
960x540 frame of smooth background; same hit rule). Each condition then degrades the whole frame, seeded:

- ``clean``: none;
- ``dark``: gain 0.3 and gamma 1.4 (an unlit cabin), sensor noise sigma 4;
- ``tint``: channel gains (0.30, 0.38, 0.36) and a veil of 20 grey levels (tinted glass with a reflection),
  noise sigma 4;
- ``blur``: Gaussian sigma 1.2 px and a 5 px horizontal motion streak (a moving vehicle), JPEG quality 60;
- ``hard``: all at once: gain 0.25 with a tint, gamma 1.3, a veil of 12, noise sigma 5, then ``blur``.

A detector is ``NAME`` or ``NAME@UPSCALE`` (the image upscaled first, as ``bench detect``), and
``mtcnn:MINFACE`` sets MTCNN's smallest face. CPU time is ``time.process_time`` (every thread counted).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.config import load_settings
from laneface.detection.factory import build_detector
from laneface.evaluation.bench_detect import _found, make_frame
from laneface.imageio import read_image
from laneface.models import ModelStore

CONDITIONS = ("clean", "dark", "tint", "blur", "hard")


def degrade(frame: npt.NDArray[np.uint8], condition: str, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    import cv2

    x = frame.astype(np.float64) / 255.0
    if condition == "clean":
        return frame
    if condition == "dark":
        x = (0.3 * x) ** 1.4 * 255.0 + rng.normal(0, 4, x.shape)
    elif condition == "tint":
        x = x * np.array([0.30, 0.38, 0.36]) * 255.0 + 20.0 + rng.normal(0, 4, x.shape)
    elif condition == "blur":
        y = cv2.GaussianBlur(frame, (0, 0), 1.2)
        y = cv2.filter2D(y, -1, np.full((1, 5), 1 / 5.0))
        _, buf = cv2.imencode(".jpg", y, [cv2.IMWRITE_JPEG_QUALITY, 60])
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), dtype=np.uint8)
    elif condition == "hard":
        x = (0.25 * x * np.array([0.8, 1.0, 0.95])) ** 1.3 * 255.0 + 12.0 + rng.normal(0, 5, x.shape)
        y = cv2.GaussianBlur(np.clip(x, 0, 255).astype(np.uint8), (0, 0), 1.2)
        y = cv2.filter2D(y, -1, np.full((1, 5), 1 / 5.0))
        _, buf = cv2.imencode(".jpg", y, [cv2.IMWRITE_JPEG_QUALITY, 60])
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), dtype=np.uint8)
    else:
        raise ValueError(condition)
    return np.clip(x, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw-dir", type=Path, required=True)
    ap.add_argument("--detectors", default="dlib-hog,mtcnn")
    ap.add_argument("--ieds", default="8,10,12,16,20,30")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--faces", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timing-frames", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("out/bench16/default.jsonl"))
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(1)
    settings = load_settings()
    store = ModelStore.from_settings(settings)
    paths = sorted(args.lfw_dir.glob("*/*.jpg"))
    rng0 = np.random.default_rng(args.seed)
    faces = [read_image(paths[i]) for i in rng0.choice(len(paths), size=args.faces, replace=False)]
    ieds = [float(v) for v in args.ieds.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for item in [d for d in args.detectors.split(",") if d]:
        name, _, up = item.partition("@")
        name, _, min_face = name.partition(":")
        upd: dict[str, object] = {"num_threads": 1, "upscale": float(up or 1.0)}
        if min_face:
            upd["min_face_px"] = float(min_face)
        det = build_detector(name, store, settings.detection.model_copy(update=upd))
        row: dict[str, object] = {"detector": item, "faces": args.faces, "seed": args.seed, "ieds": ieds}
        for cond in args.conditions.split(","):
            recall, false = [], 0
            for ied in ieds:
                rng = np.random.default_rng(args.seed + int(ied * 100))
                hits = 0
                for face in faces:
                    frame, eyes, photo = make_frame(face, ied, rng)
                    hit, others = _found(det.detect(degrade(frame, cond, rng)), eyes, photo)
                    hits += hit
                    false += others
                recall.append(round(hits / len(faces), 3))
            row[cond] = recall
            row[f"false_per_frame_{cond}"] = round(false / (len(ieds) * len(faces)), 3)
        frame, _, _ = make_frame(faces[0], 30.0, np.random.default_rng(args.seed))
        det.detect(frame)
        times = []
        for _ in range(args.timing_frames):
            t = time.process_time()
            det.detect(frame)
            times.append((time.process_time() - t) * 1000.0)
        row["cpu_ms_per_frame"] = round(float(np.median(times)), 1)
        print(json.dumps(row), flush=True)
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

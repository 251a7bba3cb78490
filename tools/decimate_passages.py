"""Short passages from simulated ones: keep every k-th frame of each camera at the same frame rate.

A stand-in for fast vehicles until ``laneface sim`` renders them itself: the vehicle covers the same path
in 1/k of the time (30-45 frames become 10-15 with k = 3, passages of 1.0-1.5 s at 10 fps). Motion blur
is not increased. The ground truth's frames are decimated alike, so ``laneface bench lane`` scores the
copies as it scores the originals. The gallery and manifest are linked, not copied.

    python tools/decimate_passages.py SIM_DIR OUT_DIR --keep-every 3
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def decimate(src: Path, dst: Path, k: int) -> None:
    import cv2

    dst.mkdir(parents=True, exist_ok=True)
    passage = json.loads((src / "passage.json").read_text())
    truth = json.loads((src / "ground_truth.json").read_text())
    for name, spec in passage["cameras"].items():
        cap = cv2.VideoCapture(str(src / spec["file"]))
        writer = None
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % k == 0:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(
                        str(dst / spec["file"]), cv2.VideoWriter.fourcc(*"mp4v"), spec["fps"], (w, h)
                    )
                writer.write(frame)
            i += 1
        cap.release()
        if writer is not None:
            writer.release()
        cam = truth["cameras"].get(name)
        if cam is not None:
            cam["frames"] = cam["frames"][::k]
    truth["frames"] = len(range(0, int(truth["frames"]), k))
    (dst / "passage.json").write_text(json.dumps(passage, indent=2) + "\n")
    (dst / "ground_truth.json").write_text(json.dumps(truth) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sim_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--keep-every", type=int, default=3)
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for src in sorted(p for p in args.sim_dir.iterdir() if (p / "passage.json").is_file()):
        decimate(src, args.out_dir / src.name, args.keep_every)
    for extra in ("manifest.csv", "sim.json"):
        if (args.sim_dir / extra).is_file():
            shutil.copy(args.sim_dir / extra, args.out_dir / extra)
    if (args.sim_dir / "gallery").is_dir() and not (args.out_dir / "gallery").exists():
        (args.out_dir / "gallery").symlink_to((args.sim_dir / "gallery").resolve())


if __name__ == "__main__":
    main()

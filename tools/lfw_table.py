"""Print a Markdown table of `laneface eval lfw` JSON results: python tools/lfw_table.py out/lfw/full/*.json"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    rows = [json.loads(Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:]]
    rows.sort(key=lambda r: (r["embedder"], -r["accuracy_mean"]))
    sys.stdout.write(
        "| detector | embedder | pairs (folds) | accuracy ± std | TAR@FAR=1e-3 | TAR@FAR=1e-2 | EER "
        "| FTA images / pairs | seconds |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        sys.stdout.write(
            f"| {r['detector']} | {r['embedder']} | {r['pairs']} ({r['folds']}) "
            f"| {100 * r['accuracy_mean']:.2f}% ± {100 * r['accuracy_std']:.2f} "
            f"| {100 * r['tar_at_far_1e3']:.2f}% | {100 * r['tar_at_far_1e2']:.2f}% | {100 * r['eer']:.2f}% "
            f"| {r['fta_images']} / {r['fta_pairs']} | {r['seconds']:.0f} |\n"
        )


if __name__ == "__main__":
    main()

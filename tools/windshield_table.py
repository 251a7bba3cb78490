"""Markdown table of `laneface bench windshield --json` result files (one or more results per file).

Usage: python tools/windshield_table.py out/ws16/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(paths: list[str]) -> None:
    print(
        "| run | detector | regions | split (every) | enhance | windshields | with >= 1 face | faces per windshield "
        "| faces outside labels | localiser recall (boxes) | median face width px | CPU ms per frame |"
    )
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in paths:
        for r in json.loads(Path(p).read_text(encoding="utf-8")):
            recall = r.get("localiser_recall")
            loc = "-" if recall is None else f"{100 * recall:.1f} % ({r['localised_boxes']})"
            width = r["median_face_width_px"]
            print(
                f"| {Path(p).stem} | {r['detector']} | {r['regions']} | {r['split']} ({r['every']}) | "
                f"{'yes' if r['enhance'] else 'no'} | {r['windshields']} | {r['windshields_with_face']} "
                f"({100 * r['share_with_face']:.1f} %) | {r['faces_per_windshield']:.3f} | {r['faces_elsewhere']} | "
                f"{loc} | {'-' if width is None else f'{width:.0f}'} | {r['cpu_ms_per_frame_mean']:.0f} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])

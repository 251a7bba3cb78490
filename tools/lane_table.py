"""Markdown rows from `laneface bench lane --json` reports: one row per report directory.

    python tools/lane_table.py OUT_DIR [OUT_DIR ...]

Each OUT_DIR holds the `report.json` that `laneface bench lane SET --out OUT_DIR --json > OUT_DIR/report.json`
wrote; the row is labelled with the directory name. Columns: occupants, capturable (what the cameras
allowed), capture (all / of capturable), complete capture, count exact, 1:few identified (of all / of
captured), 1:N identified (of all / of captured), false matches (share of occupants), spurious occupants,
CPU s per second of three-camera video.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def row(label: str, r: dict[str, Any]) -> str:
    a, f, n = r["modes"]["all"], r["modes"]["1:few"], r["modes"]["1:N"]
    cells = [
        label,
        str(a["occupants"]),
        pct(a.get("capturable_rate")),
        f"{pct(a['capture_rate'])} / {pct(a.get('captured_of_capturable_rate'))}",
        pct(a["complete_capture_rate"]),
        pct(a["count_exact_rate"]),
        f"{pct(f['correct_identification_rate'])} / {pct(f.get('identified_of_captured_rate'))}",
        f"{pct(n['correct_identification_rate'])} / {pct(n.get('identified_of_captured_rate'))}",
        f"{a['false_matches']} ({pct(a['false_match_rate'])})",
        str(a["spurious_occupants"]),
        "-" if r.get("cpu_per_video_s") is None else f"{r['cpu_per_video_s']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str]) -> int:
    print(
        "| set | occupants | capturable | capture (all / of capturable) | complete | count exact "
        "| 1:few identified (all / of captured) | 1:N identified (all / of captured) | false matches "
        "| spurious | CPU s/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in argv:
        path = Path(d) / "report.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"| {Path(d).name} | unreadable: {exc} |")
            continue
        if "modes" not in report:
            continue
        print(row(Path(d).name, report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Seat-row estimate (1 = driver's row, 2, 3) of a track from its camera's view and its faces' sizes.

Through the windshield (view ``"front"``) every row is seen at once and the rows are at different
distances from the camera, so in any one frame a rear-row face is smaller than the front-row faces: the
ratio of a face's size (square root of its box area) to the largest face of the same frame gives the row
(``>= front_ratios[0]`` row 1, ``>= front_ratios[1]`` row 2, else row 3). Frames where the face is alone
say nothing; a front-view track that is never seen with another face is taken for row 1 (a vehicle has a
driver, who is in front of everyone else). The estimate of a track is the median of its frames.

Side views see the vehicle's rows one after another while it moves; their rows are not estimated here
(``None``) and come from the front-view track of the same occupant when the association links them.

The vehicle side (``"left"``/``"right"``, the vehicle's own left and right) of a track: a front camera faces
the oncoming vehicle, so the vehicle's left appears on the image's right (``front_image_right``); faces
within ``centre_band`` of the image centre (a middle seat) have no side. A side camera's tracks get the
side of its view (view ``"left"`` -> left) only when ``side_views_own_side`` says the side cameras see
their own side alone (cameras square to the side windows). By default they get none: side cameras that
look back diagonally at the vehicle, as in the simulator's rig, see the far side's occupants through the
windshield and the near windows too (figures in docs/benchmarks.md), and a wrong side gives a wrong pair
the lenient link threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.tracking.tracker import FaceTrack

__all__ = ["RowModel", "Side", "estimate_rows", "estimate_sides"]

Side = Literal["left", "right"]


@dataclass(frozen=True)
class RowModel:
    front_views: tuple[str, ...] = ("front",)
    front_ratios: tuple[float, float] = (0.82, 0.62)  # size ratio to the largest face: row 1 above, row 2 above
    min_frames: int = 1  # frames shared with another face needed for a ratio-based estimate
    side_views: tuple[str, ...] = ("left", "right")  # views beside the vehicle, named after the side they stand on
    side_views_own_side: bool = False  # a side view sees only its own side (module docstring)
    front_image_right: Side = "left"  # the vehicle side that appears on the image's right in a front view
    centre_band: float = 0.08  # fraction of the image width around the centre that has no side

    def __post_init__(self) -> None:
        hi, lo = self.front_ratios
        if not 0.0 < lo < hi <= 1.0:
            raise ValueError(f"front_ratios must be decreasing in (0, 1], got {self.front_ratios}")

    def row_of_ratio(self, ratio: float) -> int:
        hi, lo = self.front_ratios
        return 1 if ratio >= hi else 2 if ratio >= lo else 3


def _size(box_xyxy: npt.NDArray[np.float32]) -> float:
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    return math.sqrt(max(0.0, x1 - x0) * max(0.0, y1 - y0))


def estimate_rows(tracks: Sequence[FaceTrack], view: str, model: RowModel | None = None) -> list[int | None]:
    """Row of each track of one camera (same order), or ``None`` where the view does not tell."""
    model = model or RowModel()
    if view not in model.front_views:
        return [None] * len(tracks)
    largest: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    for t in tracks:
        for p in t.points:
            largest[p.frame_index] = max(largest[p.frame_index], _size(p.box_xyxy))
            count[p.frame_index] += 1
    rows: list[int | None] = []
    for t in tracks:
        ratios = sorted(
            _size(p.box_xyxy) / largest[p.frame_index]
            for p in t.points
            if count[p.frame_index] > 1 and largest[p.frame_index] > 0
        )
        if len(ratios) < model.min_frames or not ratios:
            rows.append(1)
            continue
        rows.append(model.row_of_ratio(ratios[len(ratios) // 2]))
    return rows


def estimate_sides(
    tracks: Sequence[FaceTrack], view: str, image_width: int, model: RowModel | None = None
) -> list[Side | None]:
    """Vehicle side of each track of one camera (same order), or ``None`` where the view does not tell."""
    model = model or RowModel()
    if view in model.side_views:
        if not model.side_views_own_side:
            return [None] * len(tracks)
        side: Side = "left" if view == "left" else "right"
        return [side] * len(tracks)
    if view not in model.front_views or image_width <= 0:
        return [None] * len(tracks)
    other: Side = "right" if model.front_image_right == "left" else "left"
    out: list[Side | None] = []
    for t in tracks:
        xs = sorted(p.center_xy[0] / image_width for p in t.points)
        x = xs[len(xs) // 2] - 0.5
        out.append(None if abs(x) < model.centre_band else model.front_image_right if x > 0 else other)
    return out

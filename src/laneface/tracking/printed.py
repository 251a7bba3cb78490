"""Faces that are not travellers: printed on a shirt, on a photo or a phone screen held up, a sticker.

A camera's track is judged from the faces seen in the same frames, by where a traveller's head cannot be:

* *on a body*: its centre lies 1.1-4 face heights straight below another face that is not much smaller
  (a print on that person's chest, a phone or photo held in front of it); a traveller's head below
  another one (a front-row head under a rear-row head in the front camera) is less than a face height
  lower and larger, since it is nearer;
* *too small beside a face*: it is less than half as wide as a face within 1.5 face widths beside and 2.5
  face heights above or below it (a photo or a phone's screen beside its holder's head); a rear passenger's
  head, seen by one camera, is more than half the size of a front passenger's.

A track is left out when the rule holds in at least ``min_share`` of the frames it shares with other faces
(and at least ``min_frames`` of them), so a head that passes in front of a neighbour for a moment stays.
A track seen alone is kept: nothing can be said of it from one camera alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from laneface.tracking.tracker import FaceTrack

__all__ = ["PrintedFaceRule", "printed_faces"]


@dataclass(frozen=True)
class PrintedFaceRule:
    """Limits of :func:`printed_faces`, in face widths and heights of the other face (module docstring)."""

    below_min: float = 1.1
    below_max: float = 4.0
    below_max_dx: float = 0.6
    below_max_size: float = 1.6  # width of the lower face / width of the upper one (detector boxes of heads are narrow)
    small_ratio: float = 0.5
    small_reach_x: float = 1.5  # a photo or phone is held beside its holder's head, not across the cabin
    small_reach_y: float = 2.5
    min_share: float = 0.5
    min_frames: int = 2


def _relation(b: np.ndarray, a: np.ndarray, rule: PrintedFaceRule) -> str | None:
    """Why box ``b`` cannot be a traveller's head given head box ``a`` in the same frame, if it cannot."""
    wa, ha = a[2] - a[0], a[3] - a[1]
    wb = b[2] - b[0]
    if wa <= 0 or ha <= 0 or wb <= 0:
        return None
    dx = abs((b[0] + b[2]) - (a[0] + a[2])) / 2 / wa
    dy = ((b[1] + b[3]) - (a[1] + a[3])) / 2 / ha
    if rule.below_min <= dy <= rule.below_max and dx <= rule.below_max_dx and wb <= rule.below_max_size * wa:
        return "on_body"
    if wb <= rule.small_ratio * wa and dx <= rule.small_reach_x and abs(dy) <= rule.small_reach_y:
        return "too_small"
    return None


def printed_faces(tracks: Sequence[FaceTrack], rule: PrintedFaceRule | None = None) -> list[str | None]:
    """Per track of one camera: why it is not a traveller's face (``"on_body"``, ``"too_small"``) or None."""
    rule = rule or PrintedFaceRule()
    by_frame: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for i, t in enumerate(tracks):
        for p in t.points:
            by_frame[p.frame_index].append((i, np.asarray(p.box_xyxy, np.float64)))
    shared = [0] * len(tracks)
    hits: list[dict[str, int]] = [defaultdict(int) for _ in tracks]
    for faces in by_frame.values():
        if len(faces) < 2:
            continue
        for i, b in faces:
            shared[i] += 1
            reasons = {r for j, a in faces if j != i and (r := _relation(b, a, rule)) is not None}
            for r in reasons:
                hits[i][r] += 1
            if reasons:
                hits[i]["any"] += 1
    out: list[str | None] = []
    for i in range(len(tracks)):
        n = hits[i].get("any", 0)
        if n >= rule.min_frames and n >= rule.min_share * shared[i]:
            out.append(max(("on_body", "too_small"), key=lambda r: hits[i].get(r, 0)))
        else:
            out.append(None)
    return out

"""Printed faces (shirts, photos, screens) told from travellers' heads by where they sit among the faces
of one camera's frames."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from laneface.tracking.printed import PrintedFaceRule, printed_faces
from laneface.tracking.tracker import FaceTrack, TrackPoint


def track(tid: int, boxes: list[tuple[float, float, float, float]], first: int = 0) -> FaceTrack:
    points = tuple(
        TrackPoint(first + k, (first + k) / 10, np.asarray(b, np.float64), np.zeros((5, 2)), 0.9)
        for k, b in enumerate(boxes)
    )
    return FaceTrack(tid, "front", points)


def moving(
    x: float, y: float, w: float, h: float, n: int = 6, dx: float = 8.0
) -> list[tuple[float, float, float, float]]:
    return [(x + k * dx, y, x + k * dx + w, y + h) for k in range(n)]


def test_a_face_printed_on_a_chest_below_a_head_is_left_out() -> None:
    head = track(0, moving(100, 100, 60, 70))
    shirt = track(1, moving(102, 200, 55, 62))  # 1.4 face heights lower, as wide
    assert printed_faces([head, shirt]) == [None, "on_body"]


def test_a_front_row_head_under_a_rear_row_head_stays() -> None:
    """In the front camera a rear-row head sits a little higher than and behind a front-row one: smaller,
    less than a face height apart."""
    rear = track(0, moving(120, 60, 42, 50))
    front = track(1, moving(110, 100, 60, 70))
    assert printed_faces([rear, front]) == [None, None]


def test_a_photo_held_beside_a_head_is_too_small() -> None:
    head = track(0, moving(100, 100, 60, 70))
    photo = track(1, moving(175, 130, 22, 26))
    assert printed_faces([head, photo]) == [None, "too_small"]


def test_a_small_face_far_from_any_head_and_a_lone_face_stay() -> None:
    head = track(0, moving(100, 100, 60, 70))
    far_rear = track(1, moving(600, 80, 25, 30))  # a rear passenger across the cabin
    assert printed_faces([head, far_rear]) == [None, None]
    assert printed_faces([track(0, moving(100, 300, 30, 30))]) == [None]


def test_a_head_passing_over_another_for_a_moment_stays() -> None:
    head = track(0, moving(100, 100, 60, 70, n=8))
    boxes = moving(100, 100, 60, 70, n=8)
    boxes[3] = (100, 200, 160, 270)  # one frame below the other head (a detector's slip), seven beside it
    other = track(1, [(b[0] + 90, b[1], b[2] + 90, b[3]) if k != 3 else b for k, b in enumerate(boxes)])
    assert printed_faces([head, other]) == [None, None]


def test_the_rule_can_be_turned_by_its_limits() -> None:
    head = track(0, moving(100, 100, 60, 70))
    shirt = track(1, moving(102, 200, 55, 62))
    assert printed_faces([head, shirt], PrintedFaceRule(below_min=2.0)) == [None, None]


@given(
    st.floats(20, 120),
    st.floats(0.0, 0.95),
    st.floats(-400, 400),
)
def test_two_heads_side_by_side_are_never_left_out(width: float, dy: float, dx_faces: float) -> None:
    """Heads of one row seen by one camera: similar sizes, less than a face height apart vertically, at
    least a face width apart horizontally."""
    dx = (abs(dx_faces) + 1.0) * width * (1 if dx_faces >= 0 else -1)
    a = track(0, moving(500, 200, width, width * 1.15))
    b = track(1, moving(500 + dx, 200 + dy * width * 1.15, width * 0.9, width * 1.05))
    assert printed_faces([a, b]) == [None, None]

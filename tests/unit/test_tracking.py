"""Assignment, per-camera tracker, cross-camera association and row estimates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from laneface.tracking import (
    AssociationConfig,
    FaceTrack,
    FaceTracker,
    RowModel,
    TrackerConfig,
    TrackPoint,
    TrackSummary,
    associate,
    estimate_rows,
    iou_matrix,
    max_weight_assignment,
)
from laneface.types import FaceDetections, Template

# ------------------------------------------------------------------------------------------ assignment


def _brute_force(w: np.ndarray, ok: np.ndarray) -> float:
    rows, cols = w.shape
    best = 0.0
    for k in range(min(rows, cols) + 1):
        for rs in itertools.combinations(range(rows), k):
            for cs in itertools.permutations(range(cols), k):
                if all(ok[r, c] for r, c in zip(rs, cs, strict=True)):
                    best = max(best, sum(w[r, c] for r, c in zip(rs, cs, strict=True)))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_assignment_is_optimal_and_one_to_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(1, 5, size=2)
    w = rng.uniform(0, 1, size=(rows, cols))
    ok = rng.uniform(size=(rows, cols)) < 0.7
    pairs = max_weight_assignment(w, ok)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    assert all(ok[r, c] for r, c in pairs)
    assert sum(w[r, c] for r, c in pairs) == pytest.approx(_brute_force(w, ok))


@pytest.mark.parametrize("seed", range(30))
def test_sparse_wide_assignments_are_solved_on_the_columns_that_matter(seed: int) -> None:
    """A vehicle's occupants against a long list: most columns allowed for nobody, the result still optimal."""
    rng = np.random.default_rng(1000 + seed)
    rows, cols = int(rng.integers(1, 5)), int(rng.integers(1, 9))
    w = rng.uniform(0, 1, size=(rows, cols))
    ok = rng.uniform(size=(rows, cols)) < 0.3
    pairs = max_weight_assignment(w, ok)
    assert pairs == sorted(pairs) and all(ok[r, c] for r, c in pairs)
    assert len({r for r, _ in pairs}) == len(pairs) == len({c for _, c in pairs})
    assert sum(w[r, c] for r, c in pairs) == pytest.approx(_brute_force(w, ok))
    wide = np.zeros((rows, cols + 600))  # the same problem among 600 columns nobody may take
    wide_ok = np.zeros(wide.shape, dtype=bool)
    wide[:, 300 : 300 + cols], wide_ok[:, 300 : 300 + cols] = w, ok
    assert max_weight_assignment(wide, wide_ok) == [(r, c + 300) for r, c in pairs]


def test_assignment_prefers_the_best_total_not_the_greedy_pair() -> None:
    # greedy would take (0, 0) = 0.9 and leave row 1 without its only option
    w = np.array([[0.9, 0.8], [0.85, 0.0]])
    assert max_weight_assignment(w) == [(0, 1), (1, 0)]
    assert max_weight_assignment(np.zeros((2, 3))) == []
    assert max_weight_assignment(np.zeros((0, 3))) == []
    with pytest.raises(ValueError):
        max_weight_assignment(np.zeros(3))


# ------------------------------------------------------------------------------------------ tracker


def _dets(*boxes: tuple[float, float, float, float]) -> FaceDetections:
    if not boxes:
        return FaceDetections.empty()
    b = np.array(boxes, np.float32)
    lms = np.stack(
        [
            np.stack([b[:, 0] + 0.3 * (b[:, 2] - b[:, 0]), b[:, 1] + 0.4 * (b[:, 3] - b[:, 1])], axis=1)
            for _ in range(5)
        ],
        axis=1,
    )
    return FaceDetections(b, lms, np.full(len(b), 0.9, np.float32))


def test_iou_matrix() -> None:
    m = iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert m[0] == pytest.approx([1.0, 1 / 3, 0.0])


def test_two_faces_keep_their_ids_while_moving() -> None:
    t = FaceTracker("front")
    ids = []
    for i in range(6):
        # a fast face (12 px per frame, 40 px wide) and a slow one, listed in varying order
        a = (10 + 12 * i, 10, 50 + 12 * i, 50)
        b = (200 + i, 100, 240 + i, 140)
        out = t.update(_dets(a, b) if i % 2 else _dets(b, a), i, i / 10)
        ids.append(list(out) if i % 2 else list(out[::-1]))
    assert all(x == ids[0] for x in ids)
    tracks = t.finish()
    assert [len(tr.points) for tr in tracks] == [6, 6]
    assert tracks[0].camera == "front" and tracks[0].first_frame == 0 and tracks[0].last_frame == 5


def test_a_fast_face_with_a_stride_is_followed_by_the_centre_fallback() -> None:
    t = FaceTracker(config=TrackerConfig(min_iou=0.3))
    first = t.update(_dets((0, 0, 40, 40)), 0)
    second = t.update(_dets((25, 0, 65, 40)), 2)  # IoU 0.23 < 0.3, centre 25 px away (0.6 face sizes)
    third = t.update(_dets((50, 0, 90, 40)), 4)  # the constant-velocity prediction overlaps fully
    assert first[0] == second[0] == third[0]


def test_a_track_ends_after_max_missed_and_short_tracks_are_dropped() -> None:
    t = FaceTracker(config=TrackerConfig(max_missed=1, min_hits=2, single_hit_score=0.95))
    a = t.update(_dets((0, 0, 40, 40)), 0)[0]
    t.update(_dets((1, 0, 41, 40)), 1)
    t.update(_dets(), 2)
    t.update(_dets(), 3)  # missed twice: ended
    b = t.update(_dets((2, 0, 42, 40)), 4)[0]
    t.update(_dets((300, 300, 310, 310)), 5)  # a one-frame false detection
    assert a != b
    tracks = t.finish()
    assert [len(tr.points) for tr in tracks] == [2], "b and the false detection have one hit each"
    t.reset()
    assert t.finish() == [] and t.update(_dets((0, 0, 40, 40)), 0)[0] == 0
    lenient = FaceTracker(config=TrackerConfig(single_hit_score=0.85))
    lenient.update(_dets((0, 0, 40, 40)), 0)
    assert [tr.hits for tr in lenient.finish()] == [1], "one confident detection is a track"


def test_a_new_face_moves_with_the_camera_motion_of_the_other_faces() -> None:
    # a side camera: the vehicle passes at 100 px per processed frame; a large face is followed by IoU,
    # a small one (40 px: 2.5 face sizes per frame, beyond the gate) only thanks to the camera's motion
    t = FaceTracker(config=TrackerConfig(max_shift_x=2.0))
    big = [(800 - 100 * i, 100, 1000 - 100 * i, 300) for i in range(4)]
    t.update(_dets(big[0]), 0)
    t.update(_dets(big[1]), 1)
    first = t.update(_dets(big[2], (900, 350, 940, 390)), 2)
    second = t.update(_dets(big[3], (800, 350, 840, 390)), 3)
    assert first[0] == second[0] and first[1] == second[1]
    plain = FaceTracker(config=TrackerConfig(max_shift_x=2.0, first_link_shift_x=2.0))
    plain.update(_dets((900, 350, 940, 390)), 2)
    assert plain.update(_dets((800, 350, 840, 390)), 3)[0] == 1, "without the camera's motion: a new track"


def test_a_face_seen_once_links_further_along_x_while_the_motion_is_unknown() -> None:
    # a fast vehicle: 160 px per processed frame for 40-px faces (4 face sizes), two faces of one row side
    # by side 6 face sizes apart, both seen in both frames; then one face alone
    t = FaceTracker()
    first = t.update(_dets((900, 100, 940, 140), (1140, 100, 1180, 140)), 0)
    second = t.update(_dets((740, 100, 780, 140), (980, 100, 1020, 140)), 1)
    assert list(first) == list(second), "each face keeps its own track"
    lone = FaceTracker()
    a = lone.update(_dets((900, 100, 940, 140)), 0)[0]
    assert lone.update(_dets((740, 100, 780, 140)), 1)[0] == a
    assert not lone.motion_unknown, "the linked pair teaches the camera's motion"
    narrow = FaceTracker(config=TrackerConfig(first_link_shift_x=2.0))
    b = narrow.update(_dets((900, 100, 940, 140)), 0)[0]
    assert narrow.update(_dets((740, 100, 780, 140)), 1)[0] != b, "a guess that may not reach: a split"
    far = FaceTracker()
    c = far.update(_dets((900, 100, 940, 140)), 0)[0]
    assert far.update(_dets((640, 100, 680, 140)), 1)[0] != c, "6.5 face sizes: beyond any guess"
    vertical = FaceTracker()
    d = vertical.update(_dets((900, 100, 940, 140)), 0)[0]
    assert vertical.update(_dets((900, 180, 940, 220)), 1)[0] != d, "the guess moves along x, not y"
    with pytest.raises(ValueError, match="first_link_shift_x"):
        TrackerConfig(first_link_shift_x=-1.0)


def test_appearance_vetoes_a_swap() -> None:
    t = FaceTracker(config=TrackerConfig(min_appearance=0.5))
    e1, e2 = np.eye(4, dtype=np.float32)[:2]
    ids0 = t.update(_dets((0, 0, 40, 40)), 0, appearance=[e1])
    ids1 = t.update(_dets((2, 0, 42, 40)), 1, appearance=[e2])  # same place, another face
    assert ids0[0] != ids1[0]


# ------------------------------------------------------------------------------------------ association


def _track(tid: int, camera: str, frames: list[int], box: tuple[float, ...] = (0, 0, 40, 40)) -> FaceTrack:
    b = np.array(box, np.float32)
    pts = tuple(TrackPoint(f, f / 10, b, np.zeros((5, 2), np.float32), 0.9) for f in frames)
    return FaceTrack(tid, camera, pts)


def _tmpl(v: list[float]) -> Template:
    a = np.array(v, np.float32)
    return Template(a / np.linalg.norm(a), "m")


def test_tracks_of_one_person_in_two_cameras_make_one_occupant() -> None:
    tracks = [
        TrackSummary(_track(0, "front", [0, 2, 4]), "front", _tmpl([1, 0, 0]), 1),
        TrackSummary(_track(1, "front", [0, 2, 4]), "front", _tmpl([0, 1, 0]), 2),
        TrackSummary(_track(0, "left", [0, 2]), "left", _tmpl([0.1, 1, 0]), None),
        TrackSummary(_track(1, "left", [6, 8]), "left", _tmpl([0, 0, 1]), None),
    ]
    assert associate(tracks, AssociationConfig(link_threshold=0.8)) == [(0,), (1, 2), (3,)]


def test_overlapping_tracks_of_one_camera_are_never_merged() -> None:
    same = _tmpl([1, 0, 0])
    tracks = [
        TrackSummary(_track(0, "front", [0, 2]), "front", same, None),
        TrackSummary(_track(1, "front", [2, 4]), "front", same, None),  # shares frame 2 with track 0
        TrackSummary(_track(2, "front", [6, 8]), "front", same, None),  # a fragment: may join
    ]
    clusters = associate(tracks, AssociationConfig(link_threshold=0.5))
    assert len(clusters) == 2 and any(2 in c and len(c) == 2 for c in clusters)


def test_rows_too_far_apart_are_not_merged_and_missing_templates_stay_alone() -> None:
    tracks = [
        TrackSummary(_track(0, "front", [0]), "front", _tmpl([1, 0]), 1),
        TrackSummary(_track(0, "left", [0]), "left", _tmpl([1, 0]), 3),
        TrackSummary(_track(0, "right", [0]), "right", None, None),
    ]
    assert associate(tracks, AssociationConfig(link_threshold=0.5)) == [(0,), (1,), (2,)]
    assert associate([], AssociationConfig(link_threshold=0.5)) == []


# ------------------------------------------------------------------------------------------ rows


def test_front_rows_from_relative_face_size() -> None:
    tracks = [
        _track(0, "front", [0, 2, 4], (100, 50, 160, 110)),  # 60 px: row 1
        _track(1, "front", [0, 2, 4], (300, 50, 356, 106)),  # 56 px: row 1
        _track(2, "front", [0, 2, 4], (200, 60, 242, 102)),  # 42 px: ratio 0.7 -> row 2
        _track(3, "front", [2, 4], (220, 40, 250, 70)),  # 30 px: ratio 0.5 -> row 3
        _track(4, "front", [10, 12], (220, 40, 250, 70)),  # alone: taken for the driver
    ]
    assert estimate_rows(tracks, "front") == [1, 1, 2, 3, 1]
    assert estimate_rows(tracks, "left") == [None] * 5
    assert estimate_rows(tracks[:2], "windshield", RowModel(front_views=("windshield",))) == [1, 1]
    with pytest.raises(ValueError):
        RowModel(front_ratios=(0.5, 0.8))


def test_side_cameras_give_no_side_unless_they_see_only_their_own() -> None:
    from laneface.tracking import estimate_sides

    tracks = [_track(0, "left", [0, 2], (700, 100, 760, 160)), _track(1, "right", [0], (100, 0, 160, 60))]
    assert estimate_sides(tracks, "left", 960) == [None, None]  # a diagonal side camera sees both sides
    assert estimate_sides(tracks, "right", 960, RowModel(side_views_own_side=True)) == ["right", "right"]


def test_geometry_that_agrees_links_at_the_lenient_threshold() -> None:
    from laneface.tracking import estimate_sides

    front = _track(0, "front", [0, 2], (700, 100, 760, 160))  # image right = the vehicle's left
    left = _track(0, "left", [0, 2])
    assert estimate_sides([front, _track(1, "front", [0], (100, 0, 160, 60))], "front", 960) == ["left", "right"]
    assert estimate_sides([_track(2, "front", [0], (450, 0, 510, 60))], "front", 960) == [None]
    own_side = RowModel(side_views_own_side=True)
    assert estimate_sides([left], "left", 960, own_side) == ["left"]
    assert estimate_sides([left], "roof", 960, own_side) == [None]
    a, b = _tmpl([1, 0.9, 0]), _tmpl([1, 0, 0.9])  # cosine 0.55
    config = AssociationConfig(link_threshold=0.8, consistent_threshold=0.5)
    same_side = [TrackSummary(front, "front", a, 2, "left"), TrackSummary(left, "left", b, None, "left")]
    assert associate(same_side, config) == [(0, 1)]
    other_side = [TrackSummary(front, "front", a, 2, "right"), TrackSummary(left, "left", b, None, "left")]
    assert associate(other_side, config) == [(0,), (1,)]
    unknown = [TrackSummary(front, "front", a, 2, None), TrackSummary(left, "left", b, None, "left")]
    assert associate(unknown, config) == [(0,), (1,)]


def test_motion_is_unknown_until_a_track_has_moved() -> None:
    t = FaceTracker()
    assert not t.motion_unknown
    t.update(_dets((100, 100, 140, 140)), 0)
    assert t.motion_unknown, "a new face: its next position is a guess"
    t.update(_dets((110, 100, 150, 140)), 1)
    assert not t.motion_unknown
    assert t.predicted_boxes(2)[0] == pytest.approx([120, 100, 160, 140])
    t.update(_dets((120, 100, 160, 140), (400, 100, 440, 140)), 2)
    assert not t.motion_unknown, "the camera's motion predicts the new face"
    assert t.predicted_boxes(3)[1] == pytest.approx([410, 100, 450, 140])


def test_a_frame_whose_detection_failed_does_not_split_the_track() -> None:
    """A motion-blurred frame in which the detector finds nothing: the track waits (max_missed) and the face
    is re-associated where its velocity predicts it, even though it moved further than the IoU gate."""
    t = FaceTracker(config=TrackerConfig())
    x = [0.0, 30.0, 60.0, 90.0, 120.0]  # 30 px per frame, faces 60 px wide
    a = t.update(_dets((x[0], 50, x[0] + 60, 110)), 0)
    b = t.update(_dets((x[1], 50, x[1] + 60, 110)), 1)
    t.update(_dets(), 2)  # blurred: nothing found
    t.update(_dets(), 3)
    c = t.update(_dets((x[4], 50, x[4] + 60, 110)), 4)
    assert a[0] == b[0] == c[0]
    (track,) = t.finish()
    assert track.hits == 3 and track.last_frame == 4

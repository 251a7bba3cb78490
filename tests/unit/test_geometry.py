"""Box geometry: IoU, NMS, FaceDetections.shifted, regions and the rule for faces cut by a region's edge."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneface.detection.regions import CutFaces, detect_in_regions, search_regions
from laneface.geometry import inside_inner_edges, iou, iou_matrix, nms_xyxy, pixel_regions
from laneface.types import FaceDetections

coord = st.floats(min_value=-1000, max_value=1000, allow_nan=False, width=32)


@st.composite
def boxes(draw: st.DrawFn) -> list[float]:
    x0, y0 = draw(coord), draw(coord)
    w = draw(st.floats(min_value=0, max_value=500, allow_nan=False, width=32))
    h = draw(st.floats(min_value=0, max_value=500, allow_nan=False, width=32))
    return [x0, y0, x0 + w, y0 + h]


def _random_boxes(rng: np.random.Generator, n: int) -> npt.NDArray[np.float32]:
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(1, 60, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


# ------------------------------------------------------------------------------------------------- IoU


@given(boxes(), boxes())
def test_iou_is_symmetric_and_in_unit_interval(a: list[float], b: list[float]) -> None:
    v = iou(a, b)
    assert 0.0 <= v <= 1.0
    assert v == iou(b, a)


@given(boxes())
def test_iou_of_a_box_with_itself_is_one(a: list[float]) -> None:
    assert iou(a, a) == (1.0 if (a[2] - a[0]) * (a[3] - a[1]) > 0 else 0.0)


def test_iou_matrix_shape_and_values() -> None:
    m = iou_matrix([[0, 0, 10, 10], [0, 0, 20, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    assert m.shape == (2, 3) and m.dtype == np.float64
    np.testing.assert_array_equal(m[0], [1.0, 50 / 150, 0.0])
    assert m[1, 0] == 0.5
    assert iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def _iou_as_bench_lane_had_it(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms_as_detection_had_it(
    boxes_xyxy: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], thr: float
) -> tuple[list[int], list[npt.NDArray[np.float64]]]:
    x0, y0, x1, y1 = (boxes_xyxy[:, i].astype(np.float64) for i in range(4))
    areas = np.maximum(0.0, x1 - x0) * np.maximum(0.0, y1 - y0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    ious: list[npt.NDArray[np.float64]] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        inter = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest])) * np.maximum(
            0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest])
        )
        union = areas[i] + areas[rest] - inter
        v = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        ious.append(v)
        order = rest[v <= thr]
    return keep, ious


def test_the_one_iou_equals_the_former_copies_bit_for_bit() -> None:
    rng = np.random.default_rng(14)
    for _ in range(50):
        b = _random_boxes(rng, 40)
        b[:5] = np.round(b[:5])  # whole-pixel boxes, where exact ties at a threshold are likeliest
        b[5] = b[6]  # a duplicate: IoU exactly 1
        m = iou_matrix(b, b)
        for i in range(len(b)):
            for j in range(len(b)):
                assert m[i, j] == _iou_as_bench_lane_had_it(b[i].tolist(), b[j].tolist())
        scores = rng.uniform(0, 1, len(b)).astype(np.float32)
        for thr in (0.0, 0.3, 0.4, 0.5):
            keep, ious = _nms_as_detection_had_it(b, scores, thr)
            assert nms_xyxy(b, scores, thr).tolist() == keep
            # the values the old NMS compared with the threshold are exactly the one IoU's
            first = int(np.argsort(-scores, kind="stable")[0])
            others = np.argsort(-scores, kind="stable")[1:]
            np.testing.assert_array_equal(iou_matrix(b[first : first + 1], b[others])[0], ious[0])


def test_nms_keeps_the_best_of_overlapping_boxes_in_score_order() -> None:
    b = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    assert nms_xyxy(b, np.array([0.5, 0.9, 0.7], np.float32), 0.4).tolist() == [1, 2]
    assert nms_xyxy(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.4).tolist() == []


# ------------------------------------------------------------------------------------------- shifted


def _dets(n: int, seed: int = 0) -> FaceDetections:
    rng = np.random.default_rng(seed)
    b = _random_boxes(rng, n)
    lms = rng.uniform(0, 200, (n, 5, 2)).astype(np.float32)
    return FaceDetections(b, lms, rng.uniform(0, 1, n).astype(np.float32), "fake")


def test_shifted_moves_boxes_and_landmarks_only() -> None:
    d = _dets(3)
    s = d.shifted(10, -5)
    np.testing.assert_array_equal(s.boxes_xyxy, d.boxes_xyxy + np.array([10, -5, 10, -5], np.float32))
    np.testing.assert_array_equal(s.landmarks_xy, d.landmarks_xy + np.array([10, -5], np.float32))
    np.testing.assert_array_equal(s.scores, d.scores)
    assert s.detector == "fake" and s.boxes_xyxy.dtype == np.float32
    assert len(FaceDetections.empty("e").shifted(3, 4)) == 0


@given(st.integers(-2000, 2000), st.integers(-2000, 2000), st.integers(0, 5))
def test_shifted_by_zero_is_identity_and_shifting_back_restores(dx: int, dy: int, n: int) -> None:
    d = _dets(n, seed=n)
    same = d.shifted(0, 0)
    np.testing.assert_array_equal(same.boxes_xyxy, d.boxes_xyxy)
    np.testing.assert_array_equal(same.landmarks_xy, d.landmarks_xy)
    back = d.shifted(dx, dy).shifted(-dx, -dy)
    # float32 rounds x + dx to the spacing of floats near |dx| (< 1e-3 here): back is exact to that
    np.testing.assert_allclose(back.boxes_xyxy, d.boxes_xyxy, atol=1e-3)
    np.testing.assert_allclose(back.landmarks_xy, d.landmarks_xy, atol=1e-3)


# ------------------------------------------------------------------------------------------- regions


class WhiteSquares:
    """Fake detector: each white square (cut or not by the crop) is a face."""

    name = "white"

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        import cv2

        mask = (image_rgb[..., 0] > 200).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        out = [(x, y, x + w, y + h) for x, y, w, h, _ in stats[1:n]]
        if not out:
            return FaceDetections.empty(self.name)
        b = np.array(out, np.float32)
        c = (b[:, :2] + b[:, 2:]) / 2
        return FaceDetections(b, np.repeat(c[:, None, :], 5, axis=1), np.full(len(b), 0.9), self.name)


def _frame(squares: list[tuple[int, int, int]]) -> npt.NDArray[np.uint8]:
    img = np.zeros((200, 300, 3), np.uint8)
    for x, y, s in squares:
        img[y : y + s, x : x + s] = 255
    return img


@pytest.mark.parametrize("rule", ["keep", "drop"])
def test_a_face_fully_inside_a_region_is_found_in_image_coordinates(rule: CutFaces) -> None:
    found = detect_in_regions(WhiteSquares(), _frame([(100, 80, 30)]), [(60, 40, 200, 160)], cut_faces=rule)
    assert found.boxes_xyxy.tolist() == [[100, 80, 130, 110]]
    assert found.landmarks_xy[0, 0].tolist() == [115, 95] and found.detector == "white"


def test_a_face_cut_by_a_region_edge_is_kept_or_dropped_as_the_caller_says() -> None:
    img = _frame([(100, 80, 30)])
    region = [(50, 40, 115, 160)]  # the right edge cuts the face in half
    kept = detect_in_regions(WhiteSquares(), img, region, cut_faces="keep")
    assert kept.boxes_xyxy.tolist() == [[100, 80, 115, 110]], "the visible part, as found"
    assert len(detect_in_regions(WhiteSquares(), img, region, cut_faces="drop")) == 0
    # within edge_margin_px of the edge counts as cut; further inside does not
    near = [(50, 40, 131, 160)]  # face ends 1 px before the region's right edge
    assert len(detect_in_regions(WhiteSquares(), img, near, cut_faces="drop", edge_margin_px=1.0)) == 0
    assert len(detect_in_regions(WhiteSquares(), img, near, cut_faces="drop", edge_margin_px=0.5)) == 1


def test_an_edge_that_is_the_image_edge_cuts_nothing() -> None:
    img = _frame([(0, 80, 30), (280, 0, 20)])
    found = detect_in_regions(WhiteSquares(), img, [(0, 40, 60, 160), (250, 0, 300, 50)], cut_faces="drop")
    assert sorted(found.boxes_xyxy.tolist()) == [[0, 80, 30, 110], [280, 0, 300, 20]]


def test_a_face_in_two_overlapping_regions_is_reported_once() -> None:
    img = _frame([(100, 80, 30)])
    regions = [(60, 40, 200, 160), (90, 70, 150, 130)]
    rules: tuple[CutFaces, ...] = ("keep", "drop")
    for rule in rules:
        found = detect_in_regions(WhiteSquares(), img, regions, cut_faces=rule)
        assert found.boxes_xyxy.tolist() == [[100, 80, 130, 110]]
    # whole in one region, cut by the other's left edge: "drop" drops the cut copy; "keep" keeps it until
    # NMS merges it with the whole one (IoU 2/3, equal scores: the first region's copy wins)
    cut = [(60, 40, 200, 160), (110, 40, 200, 160)]
    for rule in rules:
        found = detect_in_regions(WhiteSquares(), img, cut, cut_faces=rule)
        assert found.boxes_xyxy.tolist() == [[100, 80, 130, 110]]


def test_regions_are_clipped_to_whole_pixels_inside_the_image() -> None:
    regions = np.array([[-5.5, 10.2, 20.7, 30.0], [290, 190, 400, 400], [5, 5, 6, 50]])
    assert pixel_regions(regions, (300, 200)) == [
        (0, 10, 21, 30),
        (290, 190, 300, 200),
    ]
    assert pixel_regions(np.zeros((0, 4)), (300, 200)) == []


def test_inside_inner_edges_and_search_regions_report_emptied_regions() -> None:
    b = np.array([[0.5, 10, 20, 30], [5, 10, 20, 30]], np.float32)
    assert inside_inner_edges(b, (10, 0, 60, 40), (100, 40), 1.0).tolist() == [False, True]
    assert inside_inner_edges(b, (0, 0, 60, 40), (100, 40), 1.0).tolist() == [True, True]
    img = _frame([(100, 80, 30)])
    parts = search_regions(WhiteSquares(), img, [(50, 40, 115, 160), (0, 0, 40, 40)], cut_faces="drop")
    assert [len(p) for p in parts] == [0], "a region whose faces were all cut gives an empty entry"

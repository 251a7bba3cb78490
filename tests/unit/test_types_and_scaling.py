from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneface.detection.base import validate_rgb
from laneface.detection.scaling import ScaledTiledDetector, tile_origins
from laneface.geometry import nms_xyxy
from laneface.types import FaceDetections


class SquareDetector:
    """Fake detector: every white square at least ``min_side`` px wide is a 'face'."""

    name = "squares"

    def __init__(self, min_side: int = 20) -> None:
        self.min_side = min_side
        self.calls: list[tuple[int, int]] = []

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        import cv2

        self.calls.append(image_rgb.shape[:2])
        mask = (image_rgb[..., 0] > 200).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes, lms = [], []
        for x, y, w, h, _area in stats[1:n]:
            if min(w, h) < self.min_side:
                continue
            boxes.append([x, y, x + w, y + h])
            lms.append(
                [
                    [x + 0.3 * w, y + 0.4 * h],
                    [x + 0.7 * w, y + 0.4 * h],
                    [x + 0.5 * w, y + 0.6 * h],
                    [x + 0.35 * w, y + 0.8 * h],
                    [x + 0.65 * w, y + 0.8 * h],
                ]
            )
        if not boxes:
            return FaceDetections.empty(self.name)
        return FaceDetections(np.array(boxes), np.array(lms), np.ones(len(boxes)), self.name)


def _image_with_squares(squares: list[tuple[int, int, int]], shape: tuple[int, int] = (540, 960)) -> np.ndarray:
    img = np.zeros((*shape, 3), np.uint8)
    for x, y, s in squares:
        img[y : y + s, x : x + s] = 255
    return img


def test_face_detections_validates_parallel_arrays() -> None:
    with pytest.raises(ValueError, match="length"):
        FaceDetections(np.zeros((2, 4)), np.zeros((1, 5, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        FaceDetections(np.zeros((2, 3)), np.zeros((2, 5, 2)), np.zeros(2))
    empty = FaceDetections.empty("x")
    assert len(empty) == 0 and empty.boxes_xyxy.shape == (0, 4)
    d = FaceDetections(np.array([[0, 0, 10, 10], [5, 5, 20, 20]]), np.zeros((2, 5, 2)), np.array([0.9, 0.4]))
    assert len(d[d.scores > 0.5]) == 1
    assert d.boxes_xyxy.dtype == np.float32 and not d.boxes_xyxy.flags.writeable


def test_validate_rgb_rejects_bad_arrays() -> None:
    for bad in (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8), [1, 2]):
        with pytest.raises(ValueError):
            validate_rgb(bad)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms_xyxy(boxes, np.array([0.5, 0.9, 0.7], np.float32), 0.4)
    assert keep.tolist() == [1, 2]


@given(length=st.integers(1, 5000), tile=st.integers(16, 1024), overlap=st.floats(0.0, 0.8))
def test_tiles_cover_the_whole_length_with_the_overlap(length: int, tile: int, overlap: float) -> None:
    starts = tile_origins(length, tile, overlap)
    assert starts[0] == 0
    if length <= tile:
        assert starts == [0]
        return
    assert starts[-1] + tile == length
    for a, b in itertools.pairwise(starts):
        assert b - a <= tile * (1 - overlap) + 1  # the overlap is at least the requested fraction


def test_upscaling_finds_small_faces_and_maps_back_to_original_pixels() -> None:
    img = _image_with_squares([(100, 100, 12), (400, 200, 30)])
    base = SquareDetector(min_side=20)
    assert len(base.detect(img)) == 1  # the 12 px square is too small for the base detector
    det = ScaledTiledDetector(base, upscale=2.0)
    found = det.detect(img)
    assert len(found) == 2
    order = np.argsort(found.boxes_xyxy[:, 0])
    np.testing.assert_allclose(found.boxes_xyxy[order[0]], [100, 100, 112, 112], atol=1.0)
    np.testing.assert_allclose(found.boxes_xyxy[order[1]], [400, 200, 430, 230], atol=1.0)
    assert det.name == "squares+x2"


def test_tiling_finds_a_face_on_a_tile_border_exactly_once() -> None:
    # tiles of 320 with 25% overlap start at 0, 240, 480, 640 (x) — put squares across those borders
    img = _image_with_squares([(300, 50, 40), (470, 300, 40), (5, 5, 30), (900, 480, 50)])
    det = ScaledTiledDetector(SquareDetector(), tile_size=320, overlap=0.25)
    found = det.detect(img)
    assert len(found) == 4
    got = sorted(tuple(np.round(b).astype(int)) for b in found.boxes_xyxy)
    assert got == sorted([(300, 50, 340, 90), (470, 300, 510, 340), (5, 5, 35, 35), (900, 480, 950, 530)])


def test_tiling_bounds_the_input_size_of_the_base_detector() -> None:
    base = SquareDetector()
    img = _image_with_squares([(10, 10, 30)])
    ScaledTiledDetector(base, upscale=2.0, tile_size=640, full_frame_pass=False).detect(img)
    assert max(max(c) for c in base.calls) <= 640
    assert len(base.calls) > 1
    base.calls.clear()
    ScaledTiledDetector(base, upscale=2.0, tile_size=640).detect(img)
    assert base.calls.count((540, 960)) == 1  # plus one pass over the original image


def test_faces_larger_than_the_overlap_are_found_by_the_full_frame_pass() -> None:
    img = _image_with_squares([(200, 100, 200)])  # 400 px after 2x: larger than any tile overlap
    tiled_only = ScaledTiledDetector(SquareDetector(), upscale=2.0, tile_size=320, full_frame_pass=False)
    assert len(tiled_only.detect(img)) == 0
    found = ScaledTiledDetector(SquareDetector(), upscale=2.0, tile_size=320).detect(img)
    assert len(found) == 1
    np.testing.assert_allclose(found.boxes_xyxy[0], [200, 100, 400, 300], atol=1.0)


def test_scaled_detector_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        ScaledTiledDetector(SquareDetector(), upscale=0)
    with pytest.raises(ValueError):
        ScaledTiledDetector(SquareDetector(), tile_size=-1)


def test_detect_in_regions_maps_faces_back_and_merges_overlaps() -> None:
    from laneface.detection.regions import detect_in_regions

    img = _image_with_squares([(100, 100, 30), (600, 300, 30), (850, 20, 30)])
    regions = [[50, 50, 300, 300], [80, 80, 200, 200], [550, 250, 700, 400], [-10, -10, 0, 0]]
    found = detect_in_regions(SquareDetector(), img, regions, cut_faces="keep")
    got = sorted(tuple(np.round(b).astype(int)) for b in found.boxes_xyxy)
    assert got == [(100, 100, 130, 130), (600, 300, 630, 330)]  # the square outside every region is not looked for
    assert len(detect_in_regions(SquareDetector(), img, np.zeros((0, 4)), cut_faces="keep")) == 0


def test_cascade_runs_the_fallback_only_when_the_primary_finds_nothing() -> None:
    from laneface.detection.cascade import CascadeDetector

    primary, fallback = SquareDetector(min_side=40), SquareDetector(min_side=10)
    cascade = CascadeDetector(primary, fallback, name="c")
    assert len(cascade.detect(_image_with_squares([(10, 10, 50)]))) == 1
    assert len(fallback.calls) == 0
    found = cascade.detect(_image_with_squares([(10, 10, 20)]))
    assert len(found) == 1
    assert found.detector == "c"
    assert len(fallback.calls) == 1

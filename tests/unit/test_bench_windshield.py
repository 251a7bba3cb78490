"""`laneface bench windshield`: YOLO label parsing, dataset loading and the scoring with a fake detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from laneface.errors import ConfigError, InvalidDatasetError
from laneface.evaluation.bench_windshield import (
    bench_windshields,
    clahe_gamma,
    faces_per_box,
    load_windshield_dataset,
    parse_yolo_labels,
)
from laneface.types import FaceDetections


def test_parse_yolo_labels(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("0 0.5 0.5 0.5 0.25\n\n0 0.1 0.1 0.4 0.4\n")
    boxes = parse_yolo_labels(p, 200, 100)
    assert boxes.dtype == np.float32
    np.testing.assert_allclose(boxes, [[50, 37.5, 150, 62.5], [0, 0, 60, 30]])  # clipped to the image
    p.write_text("")
    assert parse_yolo_labels(p, 10, 10).shape == (0, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.5 0.5 0.5\n", "got 4 fields"),
        ("0 0.5 zero 0.5 0.5\n", "not a number"),
        ("0 1.5 0.5 0.5 0.5\n", "outside"),
        ("0 0.5 0.5 0 0.5\n", r"\(0, 1\]"),
        ("0 0.5 0.5 0.5 1.2\n", r"\(0, 1\]"),
    ],
)
def test_parse_yolo_labels_errors(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "a.txt"
    p.write_text(text)
    with pytest.raises(InvalidDatasetError, match=message):
        parse_yolo_labels(p, 100, 100)


def test_parse_missing_file_and_bad_size(tmp_path: Path) -> None:
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        parse_yolo_labels(tmp_path / "none.txt", 10, 10)
    with pytest.raises(InvalidDatasetError, match="positive"):
        parse_yolo_labels(tmp_path / "none.txt", 0, 10)


def _dataset(root: Path, labels: dict[str, str]) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for stem, text in labels.items():
        img = np.full((80, 120, 3), 90, np.uint8)
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), img)
        (root / "labels" / f"{stem}.txt").write_text(text)
    return root


def test_load_dataset_and_its_errors(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ws", {"b": "0 0.5 0.5 0.5 0.5\n", "a": ""})
    frames = load_windshield_dataset(root)
    assert [f.image_path.name for f in frames] == ["a.jpg", "b.jpg"]
    (root / "labels" / "a.txt").unlink()
    with pytest.raises(InvalidDatasetError, match="no label file"):
        load_windshield_dataset(root)
    with pytest.raises(InvalidDatasetError, match="images/ and labels/"):
        load_windshield_dataset(tmp_path / "nothing")
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "labels").mkdir()
    with pytest.raises(InvalidDatasetError, match="no images"):
        load_windshield_dataset(empty)


def test_faces_per_box_counts_centres() -> None:
    boxes = np.array([[0, 0, 50, 50], [60, 0, 100, 50]], np.float32)
    faces = np.array([[10, 10, 20, 20], [50, 40, 80, 45], [200, 200, 210, 210], [70, 5, 80, 15]], np.float32)
    assert faces_per_box(faces, boxes) == [1, 2]


class BoxDetector:
    """Finds one face in every region wider than ``min_width`` pixels, at the region's centre."""

    name = "fake"

    def __init__(self, min_width: int) -> None:
        self.min_width = min_width

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        h, w = image_rgb.shape[:2]
        if w < self.min_width:
            return FaceDetections.empty(self.name)
        box = np.array([[w / 2 - 4, h / 2 - 4, w / 2 + 4, h / 2 + 4]], np.float32)
        lms = np.tile(np.array([[w / 2, h / 2]], np.float32), (1, 5, 1))
        return FaceDetections(box, lms, np.array([0.9], np.float32), self.name)


def test_bench_scores_windshields_and_saves_failures(tmp_path: Path) -> None:
    # a: no windshield (skipped); b: one wide windshield; c: a wide and a narrow one
    root = _dataset(
        tmp_path / "ws", {"a": "", "b": "0 0.5 0.5 0.5 0.5\n", "c": "0 0.3 0.5 0.5 0.5\n0 0.8 0.5 0.1 0.2\n"}
    )
    res = bench_windshields(BoxDetector(min_width=30), load_windshield_dataset(root), save_examples=tmp_path / "ex")
    assert res.frames == 2 and res.windshields == 3 and res.windshields_with_face == 2
    assert res.share_with_face == pytest.approx(2 / 3)
    assert res.faces_per_windshield == pytest.approx(2 / 3)
    assert res.faces_histogram == {"0": 1, "1": 2, "2": 0, "3+": 0}
    assert res.misses == ["c.jpg"]
    assert res.ms_per_frame_median >= 0
    assert len(list((tmp_path / "ex").glob("*.png"))) == 1
    assert res.as_json()["misses"] == 1


def test_bench_with_a_localiser_counts_labelled_windshields_and_recall(tmp_path: Path) -> None:
    # b: one wide labelled windshield (x 30-90 of 120, y 20-60 of 80); c: likewise
    root = _dataset(tmp_path / "ws", {"b": "0 0.5 0.5 0.5 0.5\n", "c": "0 0.5 0.5 0.5 0.5\n"})
    frames = load_windshield_dataset(root)
    calls: list[tuple[int, int]] = []

    def localise(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        calls.append(image.shape[:2])
        if len(calls) == 1:  # frame b: the right box, and a second one elsewhere
            return np.array([[32, 22, 88, 58], [0, 0, 20, 20]], np.float32)
        return np.zeros((0, 4), np.float32)  # frame c: nothing found

    res = bench_windshields(BoxDetector(min_width=15), frames, localise=localise, margin=0.0)
    assert calls == [(80, 120), (80, 120)]
    assert res.regions == "localised"
    assert res.windshields == 2 and res.windshields_with_face == 1  # c had no region to search
    assert res.faces_elsewhere == 1  # the face of the box at the corner lies in no labelled windshield
    assert res.localised_boxes == 2 and res.localised_matched == 1 and res.localiser_recall == pytest.approx(0.5)
    assert res.as_json()["localiser_recall"] == pytest.approx(0.5)
    oracle = bench_windshields(BoxDetector(min_width=15), frames, margin=0.0, save_found=tmp_path / "found")
    assert oracle.regions == "labels" and oracle.localiser_recall is None and oracle.windshields_with_face == 2
    assert len(list((tmp_path / "found").glob("found_*.png"))) == 2
    assert len(list((tmp_path / "found").glob("faces_*.png"))) == 2


def test_bench_enhance_sees_each_region_crop(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ws", {"b": "0 0.5 0.5 0.5 0.5\n"})
    seen: list[tuple[int, ...]] = []

    def enhance(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        seen.append(image.shape)
        return image[:, :10]  # too narrow for the fake detector: nothing is found

    res = bench_windshields(BoxDetector(min_width=15), load_windshield_dataset(root), enhance=enhance, margin=0.0)
    assert seen == [(40, 60, 3)] and res.windshields_with_face == 0


def test_clahe_gamma_brightens_dark_crops_only_upwards() -> None:
    rng = np.random.default_rng(0)
    dark = rng.integers(10, 40, size=(60, 90, 3), dtype=np.uint8)
    out = clahe_gamma(dark)
    assert out.shape == dark.shape and out.dtype == np.uint8
    assert out.mean() > dark.mean() + 30
    assert out.std() > dark.std()
    bright = np.full((20, 20, 3), 200, np.uint8)
    assert abs(float(clahe_gamma(bright, clip_limit=0.0).mean()) - 200) < 1.5  # no darkening
    with pytest.raises(ValueError, match="uint8"):
        clahe_gamma(dark.astype(np.float32))  # type: ignore[arg-type]


def test_bench_max_face_share_drops_implausibly_large_faces(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ws", {"b": "0 0.5 0.5 0.5 0.5\n"})  # a 60 px wide windshield
    frames = load_windshield_dataset(root)
    # the fake face is 8 px wide: 8/60 = 0.13 of the region
    assert bench_windshields(BoxDetector(15), frames, margin=0.0, max_face_share=0.2).windshields_with_face == 1
    assert bench_windshields(BoxDetector(15), frames, margin=0.0, max_face_share=0.1).windshields_with_face == 0
    with pytest.raises(ConfigError, match="max_face_share"):
        bench_windshields(BoxDetector(15), frames, max_face_share=0.0)

"""Windshield localisation for `bench windshield --regions localised`: source-grouped split, IoU, recall,
and a HOG localiser trained on synthetic frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from laneface.errors import ConfigError, InvalidDatasetError
from laneface.evaluation.windshield_localiser import (
    HogWindshieldLocaliser,
    box_iou,
    localiser_recall,
    original_stem,
    source_groups,
    split_frames,
)


def test_original_stem_strips_roboflow_suffix() -> None:
    assert original_stem("1625227980797_jpg.rf.2ab3f0") == "1625227980797"
    assert original_stem("05-23-01_jpg.rf.8255b5aa") == "05-23-01"
    assert original_stem("plain") == "plain"


def test_source_groups_chain_close_frames() -> None:
    groups = source_groups(["100", "101", "103", "110", "04-00-00", "04-00-50", "04-03-00", "bus"])
    assert groups["100"] == groups["101"] == groups["103"] == "100"  # gaps of 1 and 2
    assert groups["110"] == "110"
    assert groups["04-00-00"] == groups["04-00-50"] == "04-00-00"
    assert groups["04-03-00"] == "04-03-00"
    assert groups["bus"] == "bus"


@dataclass(frozen=True)
class _Frame:
    image_path: Path


def test_split_keeps_copies_of_one_frame_together() -> None:
    frames = [_Frame(Path(f"{1000 + 10 * i}_jpg.rf.{k:04x}.jpg")) for i in range(60) for k in range(3)]
    train, test = split_frames(frames, test_share=0.3)
    assert len(train) + len(test) == len(frames) and train and test
    train_stems = {original_stem(f.image_path.stem) for f in train}
    assert not train_stems & {original_stem(f.image_path.stem) for f in test}
    assert split_frames(frames, test_share=0.3) == (train, test)  # deterministic
    with pytest.raises(ConfigError):
        split_frames(frames, test_share=1.0)


def test_box_iou_and_recall() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0]], rtol=1e-6)
    r = localiser_recall([a, a, np.zeros((0, 4), np.float32)], [b[1:2], b[:1], b[2:]])
    assert (r.windshields, r.matched, r.boxes, r.frames) == (2, 1, 3, 3)
    assert r.recall == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one entry per frame"):
        localiser_recall([a], [])


def _frame(rng: np.random.Generator) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """A noisy grey frame with one dark 'windshield' (a bright-rimmed dark rectangle, aspect 1.5)."""
    img = rng.integers(100, 140, size=(240, 240, 3), dtype=np.uint8)
    w = int(rng.integers(90, 120))
    h = int(w / 1.5)
    x0, y0 = int(rng.integers(5, 240 - w - 5)), int(rng.integers(5, 240 - h - 5))
    img[y0 : y0 + h, x0 : x0 + w] = 230
    img[y0 + 6 : y0 + h - 6, x0 + 6 : x0 + w - 6] = 20
    return img, np.array([[x0, y0, x0 + w, y0 + h]], np.float32)


def test_hog_localiser_learns_synthetic_windshields(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    train = [_frame(rng) for _ in range(12)]
    loc = HogWindshieldLocaliser.train([t[0] for t in train], [t[1] for t in train], scale=1.0, window_area=2400)
    test = [_frame(rng) for _ in range(6)]
    found = [loc(t[0]) for t in test]
    assert localiser_recall([t[1] for t in test], found).recall >= 5 / 6
    blank = np.full((240, 240, 3), 120, np.uint8)
    assert len(loc(blank)) <= 1  # only the best candidate may be kept, whatever its score
    loc.save(tmp_path / "loc.svm")
    again = HogWindshieldLocaliser.load(tmp_path / "loc.svm", scale=1.0)
    np.testing.assert_allclose(again(test[0][0]), found[0])


def test_hog_localiser_errors(tmp_path: Path) -> None:
    img = np.zeros((50, 50, 3), np.uint8)
    with pytest.raises(InvalidDatasetError, match="usable aspect"):
        HogWindshieldLocaliser.train([img], [np.array([[0, 0, 10, 40]], np.float32)])
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        HogWindshieldLocaliser.load(tmp_path / "none.svm")
    with pytest.raises(ConfigError):
        HogWindshieldLocaliser(None, scale=0.0)


def test_cli_bench_windshield_both_region_modes(tmp_path: Path) -> None:
    """The CLI trains the localiser on the training split, caches it, and reports both region modes."""
    import json

    import cv2
    from typer.testing import CliRunner

    from laneface.cli.app import app

    rng = np.random.default_rng(5)
    root = tmp_path / "ws"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(16):
        img, box = _frame(rng)
        stem = f"{1000 + 10 * i}_jpg.rf.{i:04x}"
        cv2.imwrite(str(root / "images" / f"{stem}.png"), img)
        x0, y0, x1, y1 = box[0] / 240
        (root / "labels" / f"{stem}.txt").write_text(f"0 {(x0 + x1) / 2} {(y0 + y1) / 2} {x1 - x0} {y1 - y0}\n")
    cache = tmp_path / "cache" / "loc.svm"
    args = ["--data-dir", str(tmp_path / "d"), "bench", "windshield", "--dir", str(root), "-d", "dlib-hog"]
    res = CliRunner().invoke(app, [*args, "--regions", "both", "--enhance", "--localiser-cache", str(cache), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [d["regions"] for d in data] == ["labels", "localised"]
    assert data[0]["windshields"] == data[1]["windshields"] == 16
    assert data[0]["localiser_recall"] is None and 0.0 <= data[1]["localiser_recall"] <= 1.0
    assert data[1]["enhance"] is True
    assert cache.is_file()
    bad = CliRunner().invoke(app, [*args, "--regions", "windows"])
    assert bad.exit_code != 0

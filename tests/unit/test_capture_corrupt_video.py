"""A video corrupted in its middle (bytes overwritten) decodes far fewer frames than its container declares:
an error for that camera, a flagged result when other cameras still see the car, never an empty car."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lanefakes import ColourDetector, ColourEmbedder, FakeFace, SizeQuality, matcher_with, write_passage

from laneface.capture import VideoFileSource
from laneface.capture.frames import truncated
from laneface.errors import InvalidVideoError, TruncatedVideoError
from laneface.pipeline.lane import LanePipeline
from laneface.pipeline.passages import process_passages

RED = (200, 30, 30)
N_FRAMES = 34


def _video(path: Path, n: int = N_FRAMES, size: tuple[int, int] = (160, 120)) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[20:60, 10 + 3 * i : 50 + 3 * i] = (30, 30, 200)
        writer.write(frame)
    writer.release()
    return path


def _corrupt(path: Path) -> Path:
    """Overwrite the middle half of the file with zeros (the container's header and index stay)."""
    data = bytearray(path.read_bytes())
    n = len(data)
    data[n // 4 : n // 4 + n // 2] = bytes(n // 2)
    path.write_bytes(bytes(data))
    return path


def test_the_rule_needs_a_declared_count_and_far_fewer_frames() -> None:
    assert truncated(9, 34) and truncated(1, 34)
    assert not truncated(17, 34) and not truncated(34, 34)
    assert not truncated(1, 0), "a stream that declares nothing is not judged"
    assert not truncated(1, 4), "a count too small to be sure of"


def test_an_intact_video_decodes_every_declared_frame(tmp_path: Path) -> None:
    src = VideoFileSource(_video(tmp_path / "v.mp4"), "front", 10.0)
    assert len(list(src.frames())) == N_FRAMES


def test_a_video_corrupted_in_the_middle_is_an_error_naming_the_counts(tmp_path: Path) -> None:
    src = VideoFileSource(_corrupt(_video(tmp_path / "v.mp4")), "front", 10.0)
    with pytest.raises(TruncatedVideoError, match=f"of the {N_FRAMES} frames the video declares") as info:
        list(src.frames())
    assert isinstance(info.value, InvalidVideoError)
    assert info.value.camera == "front" and info.value.declared == N_FRAMES and info.value.decoded < N_FRAMES // 2


def _pipeline(tmp_path: Path) -> LanePipeline:
    return LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "data", {"D": RED}))


def _with_video_camera(directory: Path, name: str) -> None:
    meta = json.loads((directory / "passage.json").read_text())
    meta["cameras"][name] = {"file": f"cam_{name}.mp4", "view": "left", "fps": 10}
    (directory / "passage.json").write_text(json.dumps(meta))
    _corrupt(_video(directory / f"cam_{name}.mp4"))


def test_a_passage_whose_only_camera_is_corrupt_is_an_error_not_an_empty_car(tmp_path: Path) -> None:
    d = tmp_path / "p"
    d.mkdir()
    (d / "passage.json").write_text(
        json.dumps(
            {
                "passage_id": "P-9",
                "lane": "L1",
                "direction": "inbound",
                "started_at": "2026-11-22T10:00:00Z",
                "cameras": {"front": {"file": "cam_front.mp4", "view": "front", "fps": 10}},
            }
        )
    )
    _corrupt(_video(d / "cam_front.mp4"))
    with _pipeline(tmp_path) as pipeline:
        (outcome,) = process_passages(pipeline, [d])
    assert outcome.result is None and isinstance(outcome.error, TruncatedVideoError)
    line = outcome.as_json()
    assert "error" in line and "declares" in str(line["error"])


def test_a_corrupt_camera_beside_good_ones_flags_the_result(tmp_path: Path) -> None:
    d = write_passage(tmp_path / "p", {"front": ("front", [FakeFace(RED, 100, 40, 56, dx=1.0)])}, documents=["D"])
    _with_video_camera(d, "left")
    with _pipeline(tmp_path) as pipeline:
        result = pipeline.process(d)
    assert result.occupant_count == 1, "the good camera's occupant is still reported"
    line = result.as_json()
    (warning,) = line["warnings"]
    assert "'left'" in warning and f"of {N_FRAMES} declared frames" in warning
    clean = write_passage(tmp_path / "q", {"front": ("front", [FakeFace(RED, 100, 40, 56, dx=1.0)])})
    with _pipeline(tmp_path) as pipeline:
        assert "warnings" not in pipeline.process(clean).as_json()

"""The passage reader and the frame sources: the format is validated strictly, errors are specific."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from laneface.capture import Frame, FrameFolderSource, VideoFileSource, passage_id_of, read_passage
from laneface.errors import InputError, InvalidPassageError, InvalidVideoError


def _frames(folder: Path, n: int = 5, size: tuple[int, int] = (64, 48)) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        a = np.full((size[1], size[0], 3), i * 40, np.uint8)
        Image.fromarray(a).save(folder / f"{i:03d}.png")


def _video(path: Path, n: int = 6, size: tuple[int, int] = (64, 48)) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    for i in range(n):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:, :, 2] = 30 * i  # BGR: red grows
        writer.write(frame)
    writer.release()


def _meta(**over: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "passage_id": "P-9",
        "lane": "L2",
        "direction": "inbound",
        "started_at": "2026-11-22T10:00:00+01:00",
        "documents": ["D1", "D2", "D1"],
        "cameras": {
            "front": {"file": "cam_front.mp4", "view": "front", "fps": 10},
            "left": {"file": "cam_left", "view": "left", "fps": 10.0},
        },
    }
    meta.update(over)
    return meta


@pytest.fixture
def passage(tmp_path: Path) -> Path:
    d = tmp_path / "passage"
    d.mkdir()
    _video(d / "cam_front.mp4")
    _frames(d / "cam_left")
    (d / "passage.json").write_text(json.dumps(_meta()), encoding="utf-8")
    return d


def _write(d: Path, meta: dict[str, Any]) -> Path:
    (d / "passage.json").write_text(json.dumps(meta), encoding="utf-8")
    return d


def test_reads_a_valid_passage(passage: Path) -> None:
    p = read_passage(passage)
    assert (p.passage_id, p.lane, p.direction) == ("P-9", "L2", "inbound")
    assert p.documents == ("D1", "D2")
    assert p.started_at.utcoffset() is not None and p.started_at.hour == 10
    assert [c.name for c in p.cameras] == ["front", "left"]
    assert p.camera("left").view == "left" and p.camera("front").fps == 10.0
    assert passage_id_of(passage) == "P-9"
    assert (p.camera("front").zone, p.camera("front").start_s) == (None, 0.0), "one zone unless said"


def test_cameras_may_name_their_zone_and_start(passage: Path) -> None:
    meta = _meta()
    meta["cameras"]["left"].update(zone="booth", start_s=6.5)
    p = read_passage(_write(passage, meta))
    assert (p.camera("left").zone, p.camera("left").start_s) == ("booth", 6.5)
    assert (p.camera("front").zone, p.camera("front").start_s) == (None, 0.0)


def test_video_and_folder_sources_yield_frozen_rgb_frames_with_a_stride(passage: Path) -> None:
    p = read_passage(passage)
    video = p.camera("front").source()
    assert isinstance(video, VideoFileSource)
    frames = list(video.frames(stride=2))
    assert [f.index for f in frames] == [0, 2, 4] and video.frames_seen == 6
    assert video.frame_count == 6, "the count the container declares, known before decoding"
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.2, 0.4])
    f = frames[2]
    assert isinstance(f, Frame) and f.camera == "front" and f.image_rgb.dtype == np.uint8
    assert f.size_wh == (64, 48)
    r, g, b = f.image_rgb[24, 32].astype(int)
    assert r > 90 and g < 20 and b < 20, "BGR is converted to RGB"
    with pytest.raises(ValueError):
        f.image_rgb[0, 0, 0] = 1
    with pytest.raises(AttributeError):
        f.index = 3  # type: ignore[misc]
    folder = p.camera("left").source()
    assert isinstance(folder, FrameFolderSource)
    assert [x.index for x in folder.frames(stride=3)] == [0, 3] and folder.frames_seen == 5
    assert folder.frame_count == 5
    with pytest.raises(ValueError):
        list(folder.frames(stride=0))


def test_default_camera_file_is_found_without_a_file_field(passage: Path) -> None:
    meta = _meta()
    for cam in meta["cameras"].values():
        del cam["file"]
    p = read_passage(_write(passage, meta))
    assert p.camera("front").path.name == "cam_front.mp4" and p.camera("left").path.name == "cam_left"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"direction": "sideways"}, "'direction' must be 'inbound' or 'outbound'"),
        ({"passage_id": ""}, "'passage_id' must be a non-empty string"),
        ({"lane": 3}, "'lane' must be a non-empty string"),
        ({"started_at": "yesterday"}, "not an ISO 8601"),
        ({"documents": "D1"}, "'documents' must be a list"),
        ({"cameras": {}}, "'cameras' must be a non-empty object"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "view": "front", "fps": 0}}}, "'fps' must be a number"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "view": "front", "fps": True}}}, "'fps' must be a number"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "view": "", "fps": 10}}}, "'view' must be"),
        ({"cameras": {"a/b": {"file": "cam_front.mp4", "fps": 10}}}, "camera name"),
        ({"cameras": {"front": {"file": "../outside.mp4", "fps": 10}}}, "outside the passage directory"),
        ({"cameras": {"front": {"file": "/etc/passwd", "fps": 10}}}, "must be relative"),
        ({"cameras": {"front": ["cam_front.mp4"]}}, "must be an object"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "fps": 10, "zone": ""}}}, "'zone' must be"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "fps": 10, "zone": 3}}}, "'zone' must be"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "fps": 10, "start_s": -1}}}, "'start_s' must be"),
        ({"cameras": {"front": {"file": "cam_front.mp4", "fps": 10, "start_s": "5"}}}, "'start_s' must be"),
    ],
)
def test_format_errors_are_specific(passage: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPassageError, match=message.replace("(", r"\(")):
        read_passage(_write(passage, _meta(**change)))


def test_missing_fields_and_files(tmp_path: Path, passage: Path) -> None:
    meta = _meta()
    del meta["direction"]
    with pytest.raises(InvalidPassageError, match="missing field 'direction'"):
        read_passage(_write(passage, meta))
    with pytest.raises(InvalidPassageError, match="passage directory not found"):
        read_passage(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidPassageError, match=r"no passage\.json"):
        read_passage(empty)
    assert passage_id_of(empty) is None


def test_bad_json(passage: Path) -> None:
    (passage / "passage.json").write_text('{"passage_id": "P-9",', encoding="utf-8")
    with pytest.raises(InvalidPassageError, match="not valid JSON"):
        read_passage(passage)
    (passage / "passage.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InvalidPassageError, match="JSON object"):
        read_passage(passage)
    (passage / "passage.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(InvalidPassageError, match="UTF-8"):
        read_passage(passage)


def test_symlink_escaping_the_passage_directory_is_refused(tmp_path: Path, passage: Path) -> None:
    outside = tmp_path / "secret.mp4"
    _video(outside)
    (passage / "cam_link.mp4").symlink_to(outside)
    meta = _meta(cameras={"link": {"file": "cam_link.mp4", "fps": 10}})
    with pytest.raises(InvalidPassageError, match="outside the passage directory"):
        read_passage(_write(passage, meta))


def test_missing_empty_and_undecodable_videos(passage: Path) -> None:
    (passage / "cam_front.mp4").unlink()
    with pytest.raises(InvalidVideoError, match=r"'cam_front\.mp4' not found"):
        read_passage(passage)
    (passage / "cam_front.mp4").write_bytes(b"")
    p = read_passage(passage)
    with pytest.raises(InvalidVideoError, match="empty"):
        p.camera("front").source()
    (passage / "cam_front.mp4").write_bytes(b"this is no video at all" * 100)
    source = read_passage(passage).camera("front").source()
    with pytest.raises(InvalidVideoError, match="front"):
        list(source.frames())


def test_empty_frame_folder_and_corrupt_frame(passage: Path) -> None:
    for f in (passage / "cam_left").iterdir():
        f.unlink()
    (passage / "cam_left" / "notes.txt").write_text("no image here")
    p = read_passage(passage)
    with pytest.raises(InvalidVideoError, match="holds no image"):
        p.camera("left").source()
    (passage / "cam_left" / "000.png").write_bytes(b"\x89PNG broken")
    source = read_passage(passage).camera("left").source()
    with pytest.raises(InvalidVideoError, match="frame 0"):
        list(source.frames())


def test_every_reader_error_is_an_input_error() -> None:
    assert issubclass(InvalidPassageError, InputError) and issubclass(InvalidVideoError, InputError)

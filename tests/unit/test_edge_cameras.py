"""Camera capture for the lane process on a small generated video: real-time playback, frame-rate sampling,
the end of a file, looping, cuts that wait for the trigger time, an unreadable camera."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest

from laneface.edge.cameras import CameraHub
from laneface.edge.config import CameraConfig


def _video(path: Path, frames: int, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((48, 64, 3), (i * 10) % 256, np.uint8))
    writer.release()
    return path


def _wait(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_video_file_plays_in_real_time_at_the_camera_fps(tmp_path: Path) -> None:
    video = _video(tmp_path / "front.mp4", 20, 20.0)  # 1 s at 20 fps, kept at 10 fps
    events: list[Mapping[str, object]] = []
    hub = CameraHub([CameraConfig(name="front", url=str(video), fps=10)], buffer_s=30, on_event=events.append)
    t0 = time.time()
    hub.start()
    try:
        frames = hub.cut(t0 - 1.0, t0 + 0.45, wait_s=5.0)["front"]  # waits for the camera to reach the end
        assert time.time() >= t0 + 0.4  # real time: the cut had to wait
        assert 4 <= len(frames) <= 6
        _wait(lambda: any(e["event"] == "camera_ended" for e in events), 10)
        everything = hub.cut(t0 - 1.0, t0 + 10.0, wait_s=1.0)["front"]
        assert 9 <= len(everything) <= 11
        gaps = np.diff([f.t for f in everything])
        assert np.allclose(gaps, 0.1, atol=0.011)
        assert all(f.jpeg[:2] == b"\xff\xd8" for f in everything)
        decoded = cv2.imdecode(np.frombuffer(everything[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (48, 64, 3)
        assert hub.status()["front"] == {
            "connected": False,
            "ended": True,
            "frames_kept": len(everything),
            "buffered": len(everything),
            "last_error": None,
        }
        assert [e["event"] for e in events] == ["camera_connected", "camera_ended"]
    finally:
        hub.stop()


def test_a_looping_file_goes_on(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mp4", 5, 10.0)  # 0.5 s
    hub = CameraHub([CameraConfig(name="c", url=str(video), fps=10, loop=True)], buffer_s=30)
    t0 = time.time()
    hub.start()
    try:
        frames = hub.cut(t0 - 1, t0 + 1.2, wait_s=5.0)["c"]
        assert len(frames) >= 11  # more than the file holds, times still 0.1 s apart
        assert np.allclose(np.diff([f.t for f in frames]), 0.1, atol=0.011)
        assert hub.latest("c") is not None
    finally:
        hub.stop()


def test_an_unreadable_file_ends_the_camera(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    hub = CameraHub([CameraConfig(name="c", url=str(bad), fps=10)], buffer_s=30)
    hub.start()
    try:
        t = time.time()
        assert hub.cut(t - 5, t, wait_s=10.0) == {"c": []}  # does not wait for a camera that ended
        assert hub.status()["c"]["ended"] is True  # type: ignore[index]
        assert hub.status()["c"]["last_error"] == "cannot be opened"  # type: ignore[index]
    finally:
        hub.stop()


@pytest.mark.parametrize("url", ["rtsp://127.0.0.1:9/none"])
def test_a_stream_that_cannot_be_reached_is_retried_not_ended(url: str) -> None:
    hub = CameraHub([CameraConfig(name="c", url=url, fps=10)], buffer_s=30)
    hub.start()
    try:
        t = time.time()
        assert hub.cut(t - 1, t, wait_s=0.5) == {"c": []}
        assert hub.status()["c"]["ended"] is False  # type: ignore[index]
    finally:
        hub.stop()
    assert hub.status()["c"]["ended"] is True  # type: ignore[index]

"""Automatic passage segmentation: the state machine, and the auto trigger with a fake detector and cameras."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from laneface.edge.cameras import BufferedFrame, CameraInfo
from laneface.edge.segment import AutoSegmenter, Segment
from laneface.edge.triggers import AutoTrigger
from laneface.types import FaceDetections


def _feed(seg: AutoSegmenter, checks: list[tuple[float, int]]) -> list[Segment]:
    out = []
    for t, n in checks:
        s = seg.update(t, n)
        if s is not None:
            out.append(s)
    return out


def test_a_passage_from_first_face_to_last_plus_margins() -> None:
    seg = AutoSegmenter(gap_s=2.0, min_hits=2, pre_s=1.0, post_s=0.5, max_s=30.0)
    checks = (
        [(t * 0.5, 0) for t in range(4)]
        + [(2.0 + 0.5 * k, 1) for k in range(7)]
        + [(5.5 + 0.5 * k, 0) for k in range(6)]
    )
    assert _feed(seg, checks) == [Segment(start=1.0, end=5.5)]  # faces 2.0..5.0: (2.0 - 1.0, 5.0 + 0.5)
    assert not seg.active


def test_a_single_glimpse_is_not_a_passage() -> None:
    seg = AutoSegmenter(gap_s=1.0, min_hits=2)
    assert _feed(seg, [(0.0, 1), (0.5, 0), (1.0, 1), (1.5, 0), (5.0, 0)]) == []


def test_short_gaps_do_not_split_a_passage() -> None:
    seg = AutoSegmenter(gap_s=2.0, min_hits=1, pre_s=0.0, post_s=0.0)
    checks = [(0.0, 2), (1.0, 0), (2.5, 1), (3.5, 0), (4.0, 0), (4.5, 0), (6.0, 0)]
    assert _feed(seg, checks) == [Segment(0.0, 2.5)]


def test_long_passages_are_split_at_max_s_without_a_gap() -> None:
    seg = AutoSegmenter(gap_s=1.0, min_hits=1, pre_s=0.0, post_s=0.0, max_s=5.0)
    found = _feed(seg, [(float(t), 1) for t in range(13)] + [(14.0, 0)])
    assert found == [Segment(0.0, 5.0), Segment(5.0, 10.0), Segment(10.0, 12.0)]


def test_flush_closes_an_open_passage() -> None:
    seg = AutoSegmenter(gap_s=5.0, min_hits=1, pre_s=0.5, post_s=1.0)
    _feed(seg, [(10.0, 1), (11.0, 1)])
    assert seg.flush(11.5) == Segment(9.5, 11.5)
    assert seg.flush(20.0) is None


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        AutoSegmenter(gap_s=1.0, post_s=2.0)
    with pytest.raises(ValueError):
        AutoSegmenter(min_hits=0)


class FaceCountDetector:
    """A face per bright pixel column block: the frame's red channel value / 50 faces."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        self.calls += 1
        n = int(image_rgb[0, 0, 0]) // 50
        boxes = np.array([[0, 0, 10, 10]] * n, np.float32).reshape(n, 4)
        return FaceDetections(boxes, np.zeros((n, 5, 2), np.float32), np.ones(n, np.float32), "count")


def _jpeg(red: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (red, 0, 0)).save(buf, "JPEG", quality=100)
    return buf.getvalue()


class OneFrameHub:
    """A hub whose camera shows the frame the test sets."""

    def __init__(self) -> None:
        self.frame: BufferedFrame | None = None

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return (CameraInfo("front", "front", 10.0),)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]:
        return {}

    def latest(self, camera: str) -> BufferedFrame | None:
        return self.frame

    def status(self) -> dict[str, object]:
        return {}


def test_auto_trigger_cuts_when_faces_appear_and_disappear() -> None:
    hub = OneFrameHub()
    detector = FaceCountDetector()
    found: list[Segment] = []
    now = [100.0]
    trigger = AutoTrigger(
        hub,
        "front",
        detector,
        AutoSegmenter(gap_s=1.0, min_hits=2, pre_s=0.5, post_s=0.5),
        found.append,
        clock=lambda: now[0],
    )
    faces_over_time = [0, 0, 2, 2, 1, 2, 0, 0, 0, 0, 0]
    for i, faces in enumerate(faces_over_time):
        hub.frame = BufferedFrame(100.0 + 0.5 * i, _jpeg(50 * faces + 10))
        segment = trigger.check()
        if segment is not None:
            found.append(segment)
    assert found == [Segment(100.5, 103.0)]  # faces from 101.0 to 102.5
    assert detector.calls == len(faces_over_time)
    # a camera that stops delivering frames ends an open passage instead of holding it open
    for t in (200.0, 200.5):
        hub.frame = BufferedFrame(t, _jpeg(110))
        assert trigger.check() is None
    now[0] = 201.0
    assert trigger.check() is None  # the same frame again: "no face" at the clock's time
    now[0] = 201.6
    assert trigger.check() == Segment(199.5, 201.0)
    assert detector.calls == len(faces_over_time) + 2


def test_auto_trigger_thread_flushes_on_stop() -> None:
    hub = OneFrameHub()
    hub.frame = BufferedFrame(0.0, _jpeg(60))
    found: list[Segment] = []
    got = threading.Event()

    def on_segment(s: Segment) -> None:
        found.append(s)
        got.set()

    ticks = iter(range(1, 10_000))
    hub_frames = hub

    class MovingClock:
        def __call__(self) -> float:
            return float(next(ticks))

    trigger = AutoTrigger(
        hub_frames,
        "front",
        FaceCountDetector(),
        AutoSegmenter(gap_s=30.0, min_hits=1, pre_s=0.0, post_s=0.0),
        on_segment,
        check_fps=50.0,
        clock=MovingClock(),
    )
    trigger.start()
    threading.Event().wait(0.1)
    trigger.stop()
    assert len(found) == 1 and found[0].start == 0.0

"""Continuous camera capture for the lane process: one reader thread per camera (RTSP stream or a video file
played in real time) keeps the last ``buffer_s`` seconds of JPEG frames in a :class:`FrameRing`; a trigger
cuts a time window out of every ring (:meth:`CameraHub.cut`).

Frames are kept JPEG-encoded (a 960x540 frame is ~60 KB instead of 1.5 MB raw), at the camera's configured
``fps`` (the stream's other frames are grabbed, not decoded). Time stamps are Unix seconds: the arrival
time for a stream, ``start + index / fps`` for a file (so a file is a repeatable live camera). A stream that
fails is reopened with backoff; a file ends (or starts again with ``loop``).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from laneface.edge.config import CameraConfig

__all__ = ["BufferedFrame", "CameraHub", "CameraInfo", "CameraStream", "FrameHub", "FrameRing"]

logger = logging.getLogger(__name__)

EventSink = Callable[[Mapping[str, object]], None]
_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class BufferedFrame:
    """One kept frame: capture time (Unix seconds) and its JPEG bytes."""

    t: float
    jpeg: bytes


@dataclass(frozen=True)
class CameraInfo:
    """What a passage needs to know about a camera."""

    name: str
    view: str
    fps: float
    zone: str | None = None  # the capture zone it films (lanes with a booth)


class FrameRing:
    """The frames of the last ``keep_s`` seconds of one camera, in time order; thread-safe. ``close`` marks the
    camera as ended (no frame will come): waiting cuts stop waiting."""

    def __init__(self, keep_s: float) -> None:
        if not keep_s > 0:
            raise ValueError(f"keep_s must be positive, got {keep_s}")
        self.keep_s = keep_s
        self._frames: deque[BufferedFrame] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def append(self, frame: BufferedFrame) -> None:
        with self._cond:
            if self._frames and frame.t < self._frames[-1].t:
                return  # a clock step backwards: keep the ring ordered
            self._frames.append(frame)
            horizon = frame.t - self.keep_s
            while self._frames and self._frames[0].t < horizon:
                self._frames.popleft()
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_t(self) -> float | None:
        with self._cond:
            return self._frames[-1].t if self._frames else None

    def latest(self) -> BufferedFrame | None:
        with self._cond:
            return self._frames[-1] if self._frames else None

    def between(self, start: float, end: float) -> list[BufferedFrame]:
        """Frames with ``start < t <= end`` (consecutive cuts never share a frame)."""
        with self._cond:
            frames = list(self._frames)
        times = [f.t for f in frames]
        return frames[bisect.bisect_right(times, start) : bisect.bisect_right(times, end)]

    def wait_until(self, t: float, timeout_s: float) -> bool:
        """Wait until a frame at or after ``t`` arrived or the ring is closed; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._closed and not (self._frames and self._frames[-1].t >= t - _TOLERANCE_S):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def __len__(self) -> int:
        with self._cond:
            return len(self._frames)


class FrameHub(Protocol):
    """What the lane runner needs from its cameras (:class:`CameraHub`, or a fake in tests)."""

    @property
    def cameras(self) -> tuple[CameraInfo, ...]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]: ...

    def latest(self, camera: str) -> BufferedFrame | None: ...

    def status(self) -> dict[str, object]: ...


class CameraStream:
    """Reads one camera in a thread into a :class:`FrameRing` (see the module docstring)."""

    def __init__(
        self,
        config: CameraConfig,
        ring: FrameRing,
        *,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
        reconnect_max_s: float = 10.0,
    ) -> None:
        self.config = config
        self.ring = ring
        self._on_event = on_event
        self._clock = clock
        self._reconnect_max_s = reconnect_max_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_kept = 0
        self.connected = False
        self.last_error: str | None = None

    def _emit(self, event: str, **extra: object) -> None:
        if self._on_event is not None:
            self._on_event({"event": event, "camera": self.config.name, **extra})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.config.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _open(self, cv2: Any) -> Any:
        url = self.config.url
        if not self.config.is_stream:
            return cv2.VideoCapture(url)
        params: list[int] = []
        for name in ("CAP_PROP_OPEN_TIMEOUT_MSEC", "CAP_PROP_READ_TIMEOUT_MSEC"):
            prop = getattr(cv2, name, None)
            if prop is not None:
                params += [int(prop), 5000]
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)

    def _run(self) -> None:
        import cv2

        delay = 1.0
        t_next_file = self._clock()  # the time of a file's next frame (continuity across loops)
        while not self._stop.is_set():
            cap = self._open(cv2)
            try:
                if not cap.isOpened():
                    self.last_error = "cannot be opened"
                    if not self.config.is_stream:
                        logger.error("camera %s: %s cannot be opened", self.config.name, self.config.safe_url)
                        break
                    logger.warning(
                        "camera %s: %s cannot be opened, retry in %.0f s", self.config.name, self.config.safe_url, delay
                    )
                    self._stop.wait(delay)
                    delay = min(self._reconnect_max_s, delay * 2)
                    continue
                self.connected = True
                self._emit("camera_connected")
                kept, t_next_file = self._read(cv2, cap, t_next_file)
                self.connected = False
                if kept:
                    delay = 1.0
            finally:
                cap.release()
            if self._stop.is_set():
                break
            if not self.config.is_stream and (not self.config.loop or not kept):
                if not kept:
                    self.last_error = "no frame could be read"
                break
            if self.config.is_stream:
                self.last_error = "stream interrupted"
                self._emit("camera_lost")
                logger.warning("camera %s: stream interrupted, reconnect in %.0f s", self.config.name, delay)
                self._stop.wait(delay)
                delay = min(self._reconnect_max_s, delay * 2)
        self.ring.close()
        self._emit("camera_ended", frames=self.frames_kept)
        logger.info("camera %s ended after %d frames kept", self.config.name, self.frames_kept)

    def _read(self, cv2: Any, cap: Any, t_file: float) -> tuple[int, float]:
        """Read until the end of the stream or a stop; returns (frames kept, time of a file's next frame)."""
        cfg = self.config
        src_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0.5 <= src_fps <= 1000.0:
            src_fps = cfg.fps
        quality = [int(cv2.IMWRITE_JPEG_QUALITY), cfg.jpeg_quality]
        interval = 1.0 / cfg.fps
        next_keep: float | None = None
        kept = 0
        while not self._stop.is_set():
            if cfg.is_stream:
                if not cap.grab():
                    break
                t = self._clock()
            else:
                t = t_file
                wait = t - self._clock()
                if wait > 0 and self._stop.wait(wait):
                    break
                if not cap.grab():
                    break
                t_file += 1.0 / src_fps
            if next_keep is not None and t + _TOLERANCE_S < next_keep:
                continue  # grabbed, not decoded
            # keep `fps` frames per second; after a stall (more than one interval behind) start again from t
            behind = next_keep is None or t - next_keep >= interval
            next_keep = t + interval if behind or next_keep is None else next_keep + interval
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                continue
            ok, buf = cv2.imencode(".jpg", bgr, quality)
            if not ok:
                continue
            self.ring.append(BufferedFrame(t, buf.tobytes()))
            kept += 1
            self.frames_kept += 1
        return kept, t_file


class CameraHub:
    """The lane's cameras: a :class:`CameraStream` and a :class:`FrameRing` per camera."""

    def __init__(
        self,
        cameras: Sequence[CameraConfig],
        *,
        buffer_s: float,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rings = {c.name: FrameRing(buffer_s) for c in cameras}
        self._streams = {c.name: CameraStream(c, self._rings[c.name], on_event=on_event, clock=clock) for c in cameras}
        self._cameras = tuple(CameraInfo(c.name, c.view, c.fps, c.zone) for c in cameras)

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return self._cameras

    def start(self) -> None:
        for stream in self._streams.values():
            stream.start()

    def stop(self) -> None:
        for stream in self._streams.values():
            stream.request_stop()
        for stream in self._streams.values():
            stream.stop()

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]:
        """The frames of each camera in ``(start, end]``, after waiting up to ``wait_s`` for each camera to
        reach ``end`` (a camera that lags or is down gives what it has)."""
        deadline = time.monotonic() + wait_s
        for ring in self._rings.values():
            ring.wait_until(end, max(0.0, deadline - time.monotonic()))
        return {name: ring.between(start, end) for name, ring in self._rings.items()}

    def latest(self, camera: str) -> BufferedFrame | None:
        return self._rings[camera].latest()

    def status(self) -> dict[str, object]:
        return {
            name: {
                "connected": s.connected,
                "ended": self._rings[name].closed,
                "frames_kept": s.frames_kept,
                "buffered": len(self._rings[name]),
                "last_error": s.last_error,
            }
            for name, s in self._streams.items()
        }

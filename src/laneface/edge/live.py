"""A passage processed while it happens (``[booth] live``): from the ``start`` trigger, a thread takes each
camera's new frames from the lane's buffers and pushes them through a
:class:`~laneface.pipeline.lane.PassageStream`, so the pipeline's events (and the booth view) follow the
vehicle as it approaches and waits at the booth, and the officers' prompts are recorded as they are given.

- ``stop`` (the vehicle stopped at the booth): booth cameras (``zone = "booth"``) are fed from then on, and
  the documents read there join the passage (1:few at the booth);
- ``end``: the frames up to the end are fed (waiting up to ``cut_wait_s`` for lagging cameras), the stream
  finishes and its record body is handed to the processing thread, which stores it in the outbox. The
  runner spooled the same frames first: a live passage that fails or is lost (a crash) is processed again
  from the spool, with the same frames (the whole-frame search schedule may differ, as between a live and a
  recorded run).

A session that falls behind by more than the buffer (``passage.buffer_s``) loses the oldest frames (logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from laneface.capture.frames import Frame
from laneface.capture.passage import CameraSpec, Passage
from laneface.edge.cameras import BufferedFrame, FrameHub
from laneface.edge.mapping import encode_body, passage_body
from laneface.errors import InputError
from laneface.imageio import decode_image

if TYPE_CHECKING:
    from laneface.edge.booth import OfficerPrompts
    from laneface.edge.runner import LiveFactory
    from laneface.pipeline.lane import LanePipeline

__all__ = ["LiveSession", "live_factory"]

logger = logging.getLogger(__name__)


class LiveSession:
    """One passage under way (the runner's :class:`~laneface.edge.runner.LivePassage`)."""

    def __init__(
        self,
        pipeline: LanePipeline,
        hub: FrameHub,
        *,
        passage_id: str,
        lane: str,
        direction: str,
        documents: Sequence[str],
        start_t: float,
        events: Callable[[dict[str, Any]], None] | None = None,
        prompts: OfficerPrompts | None = None,
        images: bool = True,
        cut_wait_s: float = 2.0,
        poll_s: float = 0.05,
        lock: threading.Lock | None = None,
    ) -> None:
        self.passage_id = passage_id
        self._pipeline_lock = lock or threading.Lock()  # one pipeline, used by one passage at a time
        self._hub, self._prompts, self._images = hub, prompts, images
        self._cut_wait_s, self._poll_s = cut_wait_s, poll_s
        cameras = hub.cameras
        zoned = any(c.zone is not None for c in cameras)
        specs = tuple(
            CameraSpec(c.name, Path("."), c.view, c.fps, (c.zone or "approach") if zoned else None, 0.0)
            for c in cameras
        )
        passage = Passage(
            directory=Path("."),
            passage_id=passage_id,
            lane=lane,
            direction=direction,  # type: ignore[arg-type]  # the trigger's Direction
            started_at=datetime.fromtimestamp(start_t, UTC),
            documents=tuple(dict.fromkeys(documents)),
            cameras=specs,
        )
        self._stream = pipeline.stream(passage, events)
        self._start_t = start_t
        self._fps = {c.name: c.fps for c in cameras}
        self._booth = {c.name for c in cameras if c.zone == "booth"}
        self._last = {c.name: start_t for c in cameras}
        self._index = dict.fromkeys(self._last, 0)
        self._lock = threading.Lock()
        self._stop_t: float | None = None
        self._end_t: float | None = None
        self._documents: list[str] | None = None  # documents to apply at the next step
        self._cancelled = threading.Event()
        self._done = threading.Event()
        self._body: bytes | None = None
        self._thread = threading.Thread(target=self._run, name=f"live-{passage_id}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the runner's calls
    def stop(self, t: float, documents: Sequence[str]) -> None:
        with self._lock:
            self._stop_t = t
            if documents:
                self._documents = [*self._stream.passage.documents, *documents]

    def end(self, t: float, documents: Sequence[str]) -> None:
        with self._lock:
            self._end_t = t
            self._documents = [*self._stream.passage.documents, *documents]

    def cancel(self) -> None:
        self._cancelled.set()

    def body(self, timeout_s: float) -> bytes | None:
        if not self._done.wait(timeout_s):
            logger.warning("passage %s: the live result is not ready after %.0f s", self.passage_id, timeout_s)
            self.cancel()
            return None
        return self._body

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        try:
            if self._feed_until_end():
                with self._pipeline_lock:
                    result = self._stream.finish()
                self._body = encode_body(passage_body(result, result.started_at, images=self._images))
        except Exception:
            logger.exception("passage %s: live processing failed", self.passage_id)
        finally:
            self._done.set()

    def _feed_until_end(self) -> bool:
        """Feed frames as they come; True once every frame up to the end was fed, False when cancelled."""
        booth_started = False
        while not self._cancelled.is_set():
            with self._lock:
                stop_t, end_t, documents, self._documents = self._stop_t, self._end_t, self._documents, None
            if stop_t is not None and not booth_started and self._booth:
                with self._pipeline_lock:
                    self._stream.revise(camera_starts=dict.fromkeys(self._booth, max(0.0, stop_t - self._start_t)))
                for name in self._booth:
                    self._last[name] = max(self._last[name], stop_t)
                booth_started = True
            if documents is not None:
                with self._pipeline_lock:
                    self._stream.revise(documents=documents)
            limit = end_t if end_t is not None else time.time()
            active = [n for n in self._last if n not in self._booth or booth_started]
            since = min((self._last[n] for n in active), default=limit)
            wait = self._cut_wait_s if end_t is not None else 0.0
            frames = self._hub.cut(since, limit, wait) if active else {}
            with self._pipeline_lock:
                fed = self._feed(frames, active)
                for message in self._prompts.take() if self._prompts is not None else ():
                    self._stream.prompt(message)
            if end_t is not None:
                return True  # the end's cut waited for the cameras: everything up to the end is in
            if not fed:
                self._cancelled.wait(self._poll_s)
        return False

    def _feed(self, frames: dict[str, list[BufferedFrame]], active: list[str]) -> int:
        batch = sorted((f.t, name, f) for name in active for f in frames.get(name, ()) if f.t > self._last[name])
        for _, name, buffered in batch:
            index = self._index[name]
            self._index[name] = index + 1
            self._last[name] = buffered.t
            if not self._stream.wants(name, index):
                self._stream.skip(name, index, index / self._fps[name])
                continue
            try:
                image = decode_image(buffered.jpeg, source=f"camera {name}")
            except InputError as exc:
                logger.warning("passage %s: %s; frame left out", self.passage_id, exc)
                continue
            self._stream.feed(name, Frame(name, index, index / self._fps[name], image))
        return len(batch)


def live_factory(
    pipeline: LanePipeline,
    hub: FrameHub,
    *,
    lane: str,
    events: Callable[[dict[str, Any]], None] | None,
    prompts: OfficerPrompts | None,
    images: bool,
    cut_wait_s: float,
    lock: threading.Lock,
) -> LiveFactory:
    """The runner's factory of live passages on ``hub``'s cameras."""

    def start(passage_id: str, start_t: float, documents: Sequence[str], direction: str) -> LiveSession:
        return LiveSession(
            pipeline,
            hub,
            passage_id=passage_id,
            lane=lane,
            direction=direction,
            documents=documents,
            start_t=start_t,
            events=events,
            prompts=prompts,
            images=images,
            cut_wait_s=cut_wait_s,
            lock=lock,
        )

    return start

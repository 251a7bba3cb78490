"""The lane process's engine: triggers cut passages from the cameras into the spool, a processing thread turns
each spooled passage into a record in the outbox, a delivery thread sends the outbox to the service.

Durability, step by step (a crash at any point loses nothing and duplicates nothing)::

    trigger ──cut──> spool (.partial, fsync, rename)  ── ack "spooled"
    spooled ──processor──> body ──Outbox.put (commit, fsync)──> ack "stored" ──> spool entry removed
    pending ──POST (Idempotency-Key)──> 201/200 ──> delivered

- crash while spooling: the partial directory is removed at start; the trigger was not acknowledged.
- crash after spooling: the passage is processed at start.
- crash after ``put``, before the spool entry is removed: at start the key is found in the outbox and the
  spool entry is dropped without processing it again (processing twice would give another body: timings).
- crash during or after a POST, before ``delivered`` is written: the record is still pending and is sent
  again; the service answers 200 (same key, same body).

A trigger naming a passage_id that is spooled or in the outbox is answered ``duplicate`` (the spool is checked
before the outbox: a passage moves from the first to the second, never the other way).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from laneface.edge.cameras import FrameHub
from laneface.edge.delivery import Deliverer
from laneface.edge.outbox import Outbox, passage_key
from laneface.edge.segment import Segment
from laneface.edge.spool import Spool, SpooledPassage
from laneface.edge.triggers import Ack, TriggerEvent
from laneface.errors import InputError, OutboxConflictError, OutboxError

__all__ = ["EventSink", "LaneRunner", "Processor", "RunnerOptions"]

logger = logging.getLogger(__name__)

Processor = Callable[[SpooledPassage], bytes]
"""A spooled passage -> the request body (JSON bytes) of its record."""


class LivePassage(Protocol):
    """A passage processed while it happens (:mod:`laneface.edge.live`), from its start trigger on."""

    passage_id: str

    def stop(self, t: float, documents: Sequence[str]) -> None:
        """The vehicle stopped at the booth at ``t`` (Unix seconds); documents read there."""

    def end(self, t: float, documents: Sequence[str]) -> None:
        """The passage ended at ``t`` with these documents: process the rest of its frames and finish."""

    def body(self, timeout_s: float) -> bytes | None:
        """The record's body once finished; ``None`` when it failed or took longer than ``timeout_s``."""

    def cancel(self) -> None: ...


LiveFactory = Callable[[str, float, Sequence[str], str], LivePassage]
"""(passage_id, start time, documents, direction) -> a started live passage."""
EventSink = Callable[[Mapping[str, object]], None]
_STOP = object()


@dataclass(frozen=True)
class RunnerOptions:
    """``max_passage_s``: longest cut; ``cut_wait_s``: wait for cameras to reach the trigger time; ``drain_s``:
    delivery time allowed on a draining stop; ``keep_delivered_s``: how long delivered bodies are kept;
    ``processing_attempts``: tries of a passage whose processing fails unexpectedly before it is moved to
    ``failed/`` (an :class:`InputError` moves it at once); ``retry_s``: wait after an outbox write failure;
    ``live_wait_s``: how long the processing thread waits for a live passage to finish before it processes
    the spooled copy instead."""

    max_passage_s: float = 20.0
    cut_wait_s: float = 2.0
    drain_s: float = 10.0
    keep_delivered_s: float = 3600.0
    processing_attempts: int = 3
    retry_s: float = 5.0
    live_wait_s: float = 120.0


class LaneRunner:
    """See the module docstring. ``emit`` receives the lane's events (JSON-able dicts)."""

    def __init__(
        self,
        *,
        lane: str,
        direction: str,
        hub: FrameHub,
        spool: Spool,
        outbox: Outbox,
        deliverer: Deliverer,
        processor: Processor,
        options: RunnerOptions | None = None,
        emit: EventSink | None = None,
        clock: Callable[[], float] = time.time,
        live: LiveFactory | None = None,
    ) -> None:
        self.lane = lane
        self.direction = direction
        self.hub = hub
        self.spool = spool
        self.outbox = outbox
        self.deliverer = deliverer
        self.options = options or RunnerOptions()
        self._processor = processor
        self._emit_to = emit
        self._clock = clock
        self._cut_lock = threading.Lock()
        self._last_cut_end: float | None = None
        self._start_mark: float | None = None
        self._stop_mark: float | None = None  # the vehicle stopped at the booth
        self._stop_documents: list[str] = []
        self._live_factory = live
        self._live: LivePassage | None = None  # the passage under way, processed live
        self._live_done: dict[str, LivePassage] = {}  # ended, spooled, finishing
        self._queue: queue.Queue[object] = queue.Queue()
        self._halt = threading.Event()
        self._deliver_stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_prune = 0.0
        self._stopping = False
        self.processed = 0

    def _emit(self, event: str, **fields: object) -> None:
        if self._emit_to is not None:
            try:
                self._emit_to({"event": event, **fields})
            except Exception:  # a closed stdout must not stop the lane
                logger.exception("cannot emit event %s", event)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Clean the spool, queue the passages a previous run left, start cameras, processing and delivery."""
        self.spool.clean_partial()
        left = self.spool.pending()
        for path in left:
            self._queue.put(path)
        counts = self.outbox.counts()
        logger.info("lane %s: %d spooled passage(s) to process, outbox %s", self.lane, len(left), counts)
        self._emit("ready", lane=self.lane, spooled=len(left), outbox=counts)
        self.hub.start()
        worker = threading.Thread(target=self._process_loop, name="lane-processing", daemon=True)
        worker.start()
        self._threads = [worker, self.deliverer.start(self._deliver_stop)]

    def stop(self, *, drain: bool) -> None:
        """Stop the cameras; with ``drain`` process every spooled passage and deliver for up to ``drain_s``,
        else finish the passage being processed (the rest stays spooled). Closes the outbox."""
        with self._cut_lock:  # a cut in progress finishes; later triggers are refused
            self._stopping = True
            if self._live is not None:  # a passage under way has no end: its frames stay in the buffer
                self._live.cancel()
                self._live = None
        self.hub.stop()
        if not drain:
            self._halt.set()
        self._queue.put(_STOP)
        worker = self._threads[0] if self._threads else None
        if worker is not None:
            worker.join()
        if drain:
            deadline = time.monotonic() + self.options.drain_s
            while self.outbox.counts()["pending"] and time.monotonic() < deadline:
                self.deliverer.wake()
                time.sleep(0.05)
        self._deliver_stop.set()
        self.deliverer.wake()
        for thread in self._threads[1:]:
            thread.join(60.0)
        counts = self.outbox.counts()
        self.deliverer.close()
        self.outbox.close()
        logger.info("lane %s stopped, outbox %s", self.lane, counts)
        self._emit("stopped", outbox=counts)

    def status(self) -> dict[str, object]:
        return {
            "lane": self.lane,
            "cameras": self.hub.status(),
            "spooled": len(self.spool.pending()),
            "outbox": self.outbox.counts(),
            "processed": self.processed,
            "delivery_failures": self.deliverer.consecutive_failures,
        }

    # ------------------------------------------------------------------ triggers
    def _new_passage_id(self, at: float) -> str:
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S")
        return f"{self.lane}-{stamp}-{secrets.token_hex(3)}"

    def trigger(self, event: TriggerEvent) -> Ack:
        """Handle a trigger (stdin or HTTP): ``start`` marks a passage's beginning, ``end`` cuts it."""
        with self._cut_lock:
            if self._stopping:
                self._emit("refused", passage_id=event.passage_id, reason="the lane is stopping")
                return Ack(event.passage_id, "refused")
            now = self._clock()
            if event.event == "start":
                return self._start(now, event)
            if event.event == "stop":
                self._stop_mark = now
                self._stop_documents = list(event.documents)
                if self._live is not None:
                    self._live.stop(now, event.documents)
                pid = self._live.passage_id if self._live is not None else event.passage_id
                self._emit("stopped_at_booth", passage_id=pid, at=round(now, 3))
                return Ack(pid, "stopped")
            start = max(now - self.options.max_passage_s, self._last_cut_end or -1.0, self._start_mark or -1.0)
            live, self._live = self._live, None
            pid = event.passage_id or (live.passage_id if live is not None else None)
            documents = list(dict.fromkeys([*self._stop_documents, *event.documents]))
            ack = self._cut(start, now, pid, documents, event.direction)
            if live is not None:
                if ack.status == "spooled" and ack.passage_id == live.passage_id:
                    live.end(now, documents)
                    self._live_done[live.passage_id] = live
                else:
                    live.cancel()
            return ack

    def _start(self, now: float, event: TriggerEvent) -> Ack:
        self._start_mark, self._stop_mark, self._stop_documents = now, None, []
        if self._live is not None:  # a start without an end before it: that passage is dropped
            logger.warning("passage %s: a new start before its end; not processed live", self._live.passage_id)
            self._live.cancel()
            self._live = None
        pid = event.passage_id
        if self._live_factory is not None:
            pid = pid or self._new_passage_id(now)
            self._live = self._live_factory(pid, now, event.documents, event.direction or self.direction)
        self._emit("started", at=round(now, 3), passage_id=pid)
        return Ack(pid, "started")

    def cut_segment(self, segment: Segment) -> Ack:
        """Cut a passage found by automatic segmentation."""
        with self._cut_lock:
            if self._stopping:
                self._emit("refused", passage_id=None, reason="the lane is stopping")
                return Ack(None, "refused")
            start = max(segment.start, segment.end - self.options.max_passage_s, self._last_cut_end or -1.0)
            return self._cut(start, segment.end, None, (), None)

    def _cut(
        self, start: float, end: float, passage_id: str | None, documents: Sequence[str], direction: str | None
    ) -> Ack:
        pid = passage_id or self._new_passage_id(end)
        key = passage_key(pid, self.lane)
        if self.spool.find(pid) is not None or self.outbox.has(key):
            self._emit("duplicate", passage_id=pid)
            return Ack(pid, "duplicate")
        frames = self.hub.cut(start, end, self.options.cut_wait_s)
        if self._stop_mark is not None:  # booth cameras film the booth: the passage's part starts at the stop
            stop = self._stop_mark
            for cam in self.hub.cameras:
                if cam.zone == "booth" and cam.name in frames:
                    frames[cam.name] = [f for f in frames[cam.name] if f.t > stop]
        first = min((f[0].t for f in frames.values() if f), default=start)
        path = self.spool.write(
            passage_id=pid,
            lane=self.lane,
            direction=direction or self.direction,
            started_at=datetime.fromtimestamp(first, UTC),
            documents=list(documents),
            cameras=self.hub.cameras,
            frames=frames,
        )
        self._last_cut_end, self._start_mark, self._stop_mark, self._stop_documents = end, None, None, []
        self._queue.put(path)
        n = {name: len(f) for name, f in frames.items()}
        logger.info("passage %s spooled (%.1f s, frames %s)", pid, end - start, n)
        self._emit("spooled", passage_id=pid, frames=n)
        return Ack(pid, "spooled")

    # ------------------------------------------------------------------ processing
    def _process_loop(self) -> None:
        while not self._halt.is_set():
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._maintain()
                continue
            if item is _STOP:
                return
            if isinstance(item, Path) and not self._halt.is_set():
                try:
                    self.process_one(item)
                except Exception:
                    logger.exception("processing of %s failed", item)
            self._maintain()

    def _maintain(self) -> None:
        now = self._clock()
        if now - self._last_prune < 60.0:
            return
        self._last_prune = now
        try:
            dropped = self.outbox.prune_delivered(now - self.options.keep_delivered_s)
        except OutboxError as exc:
            logger.warning("outbox prune failed: %s", exc)
            return
        if dropped:
            logger.info("outbox: dropped the bodies of %d delivered record(s)", dropped)

    def process_one(self, path: Path) -> bool:
        """Process one spooled passage into the outbox; True when its record is (now or already) stored."""
        try:
            passage = SpooledPassage(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.spool.quarantine(path, f"unreadable passage.json ({exc.__class__.__name__})")
            self._emit("failed", spool=path.name, reason="unreadable passage.json")
            return False
        key = passage_key(passage.passage_id, passage.lane)
        if self.outbox.has(key):
            self.spool.remove(path)  # stored before a crash, the spool entry was not removed yet
            return True
        body = self._run_processor(passage)
        if body is None:
            return False
        while True:
            try:
                self.outbox.put(key, body)
                break
            except OutboxConflictError as exc:
                self.spool.quarantine(path, str(exc))
                self._emit("failed", passage_id=passage.passage_id, reason="outbox conflict")
                return False
            except OutboxError as exc:  # disk full, I/O error: the passage stays spooled, try again
                logger.error("passage %s: outbox write failed, retry in %.0f s: %s", key, self.options.retry_s, exc)
                if self._halt.wait(self.options.retry_s):
                    return False
        self.deliverer.wake()
        self.processed += 1
        self._emit("stored", passage_id=passage.passage_id, key=key, bytes=len(body))
        self.spool.remove(path)
        return True

    def _run_processor(self, passage: SpooledPassage) -> bytes | None:
        live = self._live_done.pop(passage.passage_id, None)
        if live is not None:
            body = live.body(self.options.live_wait_s)
            if body is not None:
                return body
            logger.warning("passage %s: no live result; processing the spooled copy", passage.passage_id)
        for attempt in range(1, self.options.processing_attempts + 1):
            try:
                return self._processor(passage)
            except InputError as exc:
                self.spool.quarantine(passage.directory, str(exc))
                self._emit("failed", passage_id=passage.passage_id, reason=str(exc))
                return None
            except Exception as exc:
                logger.exception("passage %s: processing failed (attempt %d)", passage.passage_id, attempt)
                if attempt == self.options.processing_attempts:
                    self.spool.quarantine(passage.directory, f"processing failed: {exc.__class__.__name__}: {exc}")
                    self._emit("failed", passage_id=passage.passage_id, reason=exc.__class__.__name__)
                    return None
                if self._halt.wait(self.options.retry_s):
                    return None
        return None

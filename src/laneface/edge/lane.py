"""Composition of a lane process from ``lane.toml`` (used by ``laneface lane`` and by the tests, which swap
the processor and the cameras for fakes): :func:`build_runner`, :func:`run_lane`, :func:`pipeline_processor`.

Events go to stdout as JSON lines (:class:`JsonLinesSink`): ``ready``, ``spooled``/``duplicate``/``started``
(trigger answers), ``stored`` (the record is in the outbox), ``delivered``/``retry``/``rejected`` (delivery
attempts), ``camera_connected``/``camera_lost``/``camera_ended``, ``failed``, ``listening`` (HTTP trigger
port), ``stopped``; the pipeline's events as it processes a passage (``occupant_captured``,
``occupant_identified``, ``seat_missing``, ``prompt``, ``passage_complete``: :mod:`laneface.pipeline.events`)
and, with ``[booth] post_events``, ``officer_prompt`` when an officer prompts the occupants from the booth
view. Logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from laneface.edge.booth import OfficerPrompts
from laneface.edge.cameras import CameraHub, FrameHub
from laneface.edge.config import LaneFileConfig
from laneface.edge.delivery import Attempt, Deliverer
from laneface.edge.mapping import empty_passage_body, encode_body, passage_body
from laneface.edge.outbox import Outbox
from laneface.edge.runner import EventSink, LaneRunner, LiveFactory, Processor, RunnerOptions
from laneface.edge.segment import AutoSegmenter
from laneface.edge.spool import Spool, SpooledPassage
from laneface.edge.triggers import AutoTrigger, HttpTriggerServer, StdinTriggers
from laneface.errors import ConfigError
from laneface.retry import Backoff

if TYPE_CHECKING:
    import httpx

    from laneface.detection.base import FaceDetector
    from laneface.pipeline.lane import LanePipeline

__all__ = ["JsonLinesSink", "build_runner", "pipeline_processor", "run_lane"]

logger = logging.getLogger(__name__)


class JsonLinesSink:
    """Writes each event as one JSON line to ``stream`` (thread-safe, flushed); a closed stream stops the events,
    not the lane."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._broken = False

    def __call__(self, event: Mapping[str, object]) -> None:
        line = json.dumps(dict(event), default=str, separators=(",", ":"))
        with self._lock:
            if self._broken:
                return
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # the reader went away (closed pipe): the lane goes on without events
                self._broken = True
                logger.warning("event output closed; events are no longer written")


def pipeline_processor(
    pipeline: LanePipeline,
    *,
    images: bool = True,
    events: Callable[[dict[str, Any]], None] | None = None,
    prompts: OfficerPrompts | None = None,
    lock: threading.Lock | None = None,
) -> Processor:
    """The processor of the real lane: the lane pipeline on the spooled passage
    (:func:`~laneface.pipeline.passages.process_passages`), its result as the body; a passage that cannot be
    read raises its :class:`~laneface.errors.InputError` (the runner records it as failed). ``events``
    receives the passage's events; ``prompts`` gives the officers' prompts received while it is processed."""
    from laneface.pipeline.passages import process_passages

    def process(spooled: SpooledPassage) -> bytes:
        if not spooled.has_frames:
            body = empty_passage_body(spooled.passage_id, spooled.lane, spooled.direction, spooled.started_at)
            return encode_body(body)
        with lock or threading.Lock():  # the lane's live passages use the same pipeline
            (outcome,) = process_passages(
                pipeline, [spooled.directory], events=events, prompts=None if prompts is None else prompts.take
            )
        result = outcome.unwrap()
        return encode_body(passage_body(result, result.started_at, images=images))

    return process


def _attempt_event(emit: EventSink) -> Callable[[Attempt], None]:
    def report(attempt: Attempt) -> None:
        event: dict[str, object] = {"event": attempt.outcome, "key": attempt.key, "status": attempt.status}
        if attempt.error is not None:
            event["error"] = attempt.error
        if attempt.retry_in_s is not None:
            event["retry_in_s"] = round(attempt.retry_in_s, 2)
        emit(event)

    return report


def build_runner(
    cfg: LaneFileConfig,
    processor: Processor,
    *,
    api_key: str,
    hub: FrameHub | None = None,
    transport: httpx.BaseTransport | None = None,
    emit: EventSink | None = None,
    live: Callable[[FrameHub], LiveFactory] | None = None,
) -> LaneRunner:
    """The runner of ``cfg``: outbox, deliverer, spool and cameras (``hub`` replaces the cameras); ``live``
    makes the factory of live passages on the cameras (``[booth] live``)."""
    sink: EventSink = emit if emit is not None else JsonLinesSink()
    outbox = Outbox(cfg.outbox)
    try:
        d = cfg.delivery
        deliverer = Deliverer(
            outbox,
            cfg.service.urls,
            api_key,
            backoff=Backoff(d.backoff_initial_s, d.backoff_factor, d.backoff_max_s, d.jitter),
            timeout_s=cfg.service.timeout_s,
            transport=transport,
            on_attempt=_attempt_event(sink),
        )
        cameras = hub if hub is not None else CameraHub(cfg.camera, buffer_s=cfg.passage.buffer_s, on_event=sink)
        return LaneRunner(
            lane=cfg.lane,
            direction=cfg.direction,
            hub=cameras,
            spool=Spool(cfg.spool_dir),
            outbox=outbox,
            deliverer=deliverer,
            processor=processor,
            options=RunnerOptions(
                max_passage_s=cfg.passage.max_s,
                cut_wait_s=cfg.passage.cut_wait_s,
                drain_s=d.drain_s,
                keep_delivered_s=d.keep_delivered_s,
            ),
            emit=sink,
            live=None if live is None else live(cameras),
        )
    except BaseException:
        outbox.close()
        raise


def run_lane(
    cfg: LaneFileConfig,
    runner: LaneRunner,
    *,
    stdin: IO[str] | None = None,
    detector: FaceDetector | None = None,
    emit: EventSink | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``): triggers per ``cfg.trigger.kind``. With ``stdin``, the end of
    the input stops the lane after processing every spooled passage and delivering for ``delivery.drain_s``."""
    sink: EventSink = emit if emit is not None else JsonLinesSink()
    stop = stop or threading.Event()
    drain = threading.Event()
    kind = cfg.trigger.kind
    if kind == "auto" and detector is None:
        raise ConfigError("trigger.kind 'auto' needs a face detector")

    def end_of_input() -> None:
        drain.set()
        stop.set()

    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal %d: stopping the lane", signum)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)

    runner.start()
    http: HttpTriggerServer | None = None
    auto: AutoTrigger | None = None
    try:
        if kind == "stdin":
            StdinTriggers(
                stdin if stdin is not None else sys.stdin,
                runner.trigger,
                on_error=lambda message: sink({"event": "trigger_error", "message": message}),
                on_eof=end_of_input,
            ).start()
        elif kind == "http":
            http = HttpTriggerServer(cfg.trigger.host, cfg.trigger.port, runner.trigger, runner.status)
            http.start()
            logger.info("trigger: http://%s:%d/trigger", cfg.trigger.host, http.port)
            sink({"event": "listening", "host": cfg.trigger.host, "port": http.port})
        elif detector is not None:
            t = cfg.trigger
            segmenter = AutoSegmenter(
                gap_s=t.gap_s, min_hits=t.min_hits, pre_s=t.pre_s, post_s=t.post_s, max_s=cfg.passage.max_s
            )
            auto = AutoTrigger(
                runner.hub, cfg.trigger_camera, detector, segmenter, runner.cut_segment, check_fps=t.check_fps
            )
            auto.start()
        while not stop.wait(0.5):
            pass
    finally:
        if http is not None:
            http.stop()
        if auto is not None:
            auto.stop()
        runner.stop(drain=drain.is_set())
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

"""Passage triggers of the lane process.

- ``stdin``: one JSON object per line, e.g. ``{"documents": ["DOC-1"], "passage_id": "P-17"}`` (an empty
  line is a trigger with no field). The lane answers each on stdout with an event line.
- ``http``: ``POST /trigger`` with the same JSON (``201`` with ``{"passage_id", "status"}`` once the passage
  is on disk, ``200`` for a duplicate or a start, ``503`` while the lane stops); ``GET /status``; loopback
  addresses only (the trigger is not authenticated).
- ``auto``: :class:`AutoTrigger` runs the detector on the trigger camera's latest frame ``check_fps`` times
  per second and cuts passages with :class:`~laneface.edge.segment.AutoSegmenter`.

Fields of a trigger: ``event`` (``"end"``, default: a vehicle has passed, cut the frames since the last cut
or the last ``"start"``, at most ``passage.max_s`` seconds; ``"start"``: a vehicle enters; ``"stop"``: it
stops at the booth, whose cameras (``zone = "booth"``) are kept from then on), ``passage_id``
(optional; a trigger source that may send a trigger twice should name it: a passage_id already spooled or in
the outbox is answered ``duplicate`` and not cut again), ``documents`` (read in the lane), ``direction``
(overrides the lane's).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from laneface.edge.segment import AutoSegmenter, Segment
from laneface.errors import InputError
from laneface.types import Direction

if TYPE_CHECKING:
    from laneface.detection.base import FaceDetector
    from laneface.edge.cameras import FrameHub

__all__ = [
    "Ack",
    "AutoTrigger",
    "HttpTriggerServer",
    "StdinTriggers",
    "TriggerEvent",
    "parse_trigger",
]

logger = logging.getLogger(__name__)

MAX_TRIGGER_BYTES = 64 * 1024
_IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class TriggerEvent(BaseModel):
    """One trigger (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Literal["end", "start", "stop"] = "end"
    passage_id: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_IDENT)] | None = None
    documents: list[Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_IDENT)]] = Field(
        default_factory=list, max_length=16
    )
    direction: Direction | None = None


@dataclass(frozen=True)
class Ack:
    """The lane's answer to a trigger: ``spooled`` (the passage is on disk), ``duplicate`` (that passage_id
    was already taken), ``started`` (a start event), ``stopped`` (a stop event), ``refused`` (the lane is
    stopping: send it again later)."""

    passage_id: str | None
    status: Literal["spooled", "duplicate", "started", "stopped", "refused"]

    def as_json(self) -> dict[str, object]:
        return {"passage_id": self.passage_id, "status": self.status}


TriggerHandler = Callable[[TriggerEvent], Ack]


def parse_trigger(data: str | bytes) -> TriggerEvent:
    """A trigger from its JSON text; :class:`InputError` when it is not a valid trigger."""
    if len(data) > MAX_TRIGGER_BYTES:
        raise InputError(f"trigger of {len(data)} bytes, over the limit of {MAX_TRIGGER_BYTES}")
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    if not text.strip():
        return TriggerEvent()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"trigger is not valid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise InputError("a trigger must be a JSON object")
    try:
        return TriggerEvent.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'trigger'}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise InputError(f"invalid trigger: {problems}") from None


class StdinTriggers:
    """Reads trigger lines from ``stream`` in a daemon thread; ``on_eof`` is called when the stream ends."""

    def __init__(
        self,
        stream: IO[str],
        handler: TriggerHandler,
        *,
        on_ack: Callable[[Ack], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_eof: Callable[[], None] | None = None,
    ) -> None:
        self._stream = stream
        self._handler = handler
        self._on_ack = on_ack
        self._on_error = on_error
        self._on_eof = on_eof
        self._thread = threading.Thread(target=self._run, name="trigger-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            for line in self._stream:
                try:
                    ack = self._handler(parse_trigger(line))
                except InputError as exc:
                    logger.warning("trigger refused: %s", exc)
                    if self._on_error is not None:
                        self._on_error(str(exc))
                    continue
                if self._on_ack is not None:
                    self._on_ack(ack)
        except Exception:
            logger.exception("the stdin trigger reader failed")
        finally:
            if self._on_eof is not None:
                self._on_eof()


class HttpTriggerServer:
    """``POST /trigger``, ``GET /status`` and ``GET /healthz`` on a loopback address, in a daemon thread."""

    def __init__(
        self, host: str, port: int, handler: TriggerHandler, status: Callable[[], Mapping[str, object]]
    ) -> None:
        trigger, get_status = handler, status

        class _Handler(BaseHTTPRequestHandler):
            server_version = "laneface-lane"
            sys_version = ""

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("trigger http: " + format, *args)

            def _send(self, code: int, body: Mapping[str, object]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, {"status": "ok"})
                elif self.path == "/status":
                    self._send(200, get_status())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                if self.path != "/trigger":
                    self._send(404, {"error": "not_found"})
                    return
                length = self.headers.get("Content-Length", "0")
                if not length.isdigit():
                    self._send(411, {"error": "length_required"})
                    return
                if int(length) > MAX_TRIGGER_BYTES:
                    self._send(413, {"error": "too_large"})
                    return
                try:
                    ack = trigger(parse_trigger(self.rfile.read(int(length))))
                except InputError as exc:
                    self._send(422, {"error": "invalid_trigger", "message": str(exc)})
                    return
                except Exception:
                    logger.exception("trigger failed")
                    self._send(500, {"error": "internal_error"})
                    return
                code = {"spooled": 201, "refused": 503}.get(ack.status, 200)
                self._send(code, ack.as_json())

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="trigger-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class AutoTrigger:
    """Automatic segmentation (see :mod:`laneface.edge.segment`): every ``1 / check_fps`` seconds, the faces on
    the latest frame of ``camera``; a finished segment goes to ``on_segment``. A camera that delivers no new
    frame counts as "no face" (a stalled camera ends the passage instead of holding it open)."""

    def __init__(
        self,
        hub: FrameHub,
        camera: str,
        detector: FaceDetector,
        segmenter: AutoSegmenter,
        on_segment: Callable[[Segment], object],
        *,
        check_fps: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._hub = hub
        self._camera = camera
        self._detector = detector
        self._segmenter = segmenter
        self._on_segment = on_segment
        self._period = 1.0 / check_fps
        self._clock = clock
        self._stop = threading.Event()
        self._last_t: float | None = None
        self._thread = threading.Thread(target=self._run, name="trigger-auto", daemon=True)
        self.checks = 0

    def check(self) -> Segment | None:
        """One check (called by the thread; public for tests)."""
        import cv2
        import numpy as np

        frame = self._hub.latest(self._camera)
        if frame is None or frame.t == self._last_t:
            return self._segmenter.update(self._clock(), 0)
        self._last_t = frame.t
        bgr = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
        faces = 0
        if bgr is not None:
            rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
            faces = len(self._detector.detect(rgb))
        self.checks += 1
        return self._segmenter.update(frame.t, faces)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                segment = self.check()
                if segment is not None:
                    self._on_segment(segment)
            except Exception:
                logger.exception("automatic trigger check failed")
            next_at += self._period
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self._period)
        segment = self._segmenter.flush(self._clock())
        if segment is not None:
            try:
                self._on_segment(segment)
            except Exception:
                logger.exception("cutting the last automatic passage failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

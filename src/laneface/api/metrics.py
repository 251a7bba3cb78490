"""``/metrics``: the service's Prometheus metrics (the one module that imports ``prometheus_client``).

Each app has its own :class:`~prometheus_client.CollectorRegistry`, so several apps in one process (tests) do
not share counters. Families (counters carry Prometheus' ``_total`` suffix):

* ``laneface_passages_total{lane,direction}``: passages stored (idempotent replays are not counted again);
* ``laneface_occupants_total{decision}``: occupants of those passages by the lane's decision;
* ``laneface_row_occupants_total{row}``, ``laneface_row_captured_total{row}`` and the gauge
  ``laneface_capture_rate{row}`` (captured / occupants per seat row since the service started; ``row`` is
  ``unknown`` when the cameras did not tell);
* ``laneface_passage_post_seconds{status}``: histogram of the handling time of passage posts;
* ``laneface_lane_outbox_backlog{lane}``: pending records in a lane's outbox, as the lane last reported it
  (header ``X-Laneface-Outbox-Backlog`` of its posts);
* ``laneface_database_errors_total{kind}``: database errors (``unavailable`` answered 503, ``other`` 500,
  ``audit`` a refused-access audit event that could not be written);
* ``laneface_refused_requests_total{status}``: refused accesses (401, 403).

Access: callers of role ``metrics`` (a scraper's key: reads nothing else) or ``admin``.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from laneface.edge.delivery import OUTBOX_BACKLOG_HEADER
from laneface.records.domain import PassageSubmission

__all__ = ["BACKLOG_HEADER", "CONTENT_TYPE", "PassagePostTimer", "ServiceMetrics"]

BACKLOG_HEADER = OUTBOX_BACKLOG_HEADER
CONTENT_TYPE = CONTENT_TYPE_LATEST
# beyond this many distinct lane names (an authenticated lane may post any name) the label is "other"
MAX_LANES = 256
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """The metric families of one app and the updates the routes make."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.passages = Counter(
            "laneface_passages", "Passages stored, by lane and direction", ["lane", "direction"], registry=r
        )
        self.occupants = Counter(
            "laneface_occupants", "Occupants of stored passages, by the lane's decision", ["decision"], registry=r
        )
        self.row_occupants = Counter("laneface_row_occupants", "Occupants per seat row", ["row"], registry=r)
        self.row_captured = Counter(
            "laneface_row_captured", "Captured occupants (decision not not_captured) per seat row", ["row"], registry=r
        )
        self.capture_rate = Gauge(
            "laneface_capture_rate", "Captured / occupants per seat row since the service started", ["row"], registry=r
        )
        self.post_latency = Histogram(
            "laneface_passage_post_seconds",
            "Handling time of passage posts (POST /v1/passages, /v1/passages/multipart)",
            ["status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "laneface_lane_outbox_backlog", "Pending records in a lane's outbox, as last reported", ["lane"], registry=r
        )
        self.database_errors = Counter("laneface_database_errors", "Database errors", ["kind"], registry=r)
        self.refused = Counter("laneface_refused_requests", "Refused accesses", ["status"], registry=r)
        self._lanes: set[str] = set()
        self._rows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def _lane(self, lane: str) -> str:
        with self._lock:
            if lane in self._lanes or len(self._lanes) < MAX_LANES:
                self._lanes.add(lane)
                return lane
        return "other"

    def passage_stored(self, submission: PassageSubmission) -> None:
        """Count a newly stored passage (not an idempotent replay)."""
        self.passages.labels(self._lane(submission.lane), submission.direction).inc()
        for occupant in submission.occupants:
            self.occupants.labels(occupant.decision).inc()
            row = "unknown" if occupant.row is None else str(occupant.row)
            captured = occupant.decision != "not_captured"
            self.row_occupants.labels(row).inc()
            if captured:
                self.row_captured.labels(row).inc()
            with self._lock:
                seen, got = self._rows.get(row, (0, 0))
                seen, got = seen + 1, got + int(captured)
                self._rows[row] = (seen, got)
            self.capture_rate.labels(row).set(got / seen)

    def backlog_reported(self, lane: str, pending: int) -> None:
        self.outbox_backlog.labels(self._lane(lane)).set(pending)

    def database_error(self, kind: str) -> None:
        self.database_errors.labels(kind).inc()

    def refusal(self, status: int) -> None:
        self.refused.labels(str(status)).inc()

    def exposition(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class PassagePostTimer:
    """ASGI middleware: the handling time of every passage post, by response status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/v1/passages"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.post_latency.labels(str(status)).observe(time.perf_counter() - start)

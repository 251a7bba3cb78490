"""``laneface run --post URL``: the results of recorded passages into the records service, through the lane
edge's own :class:`~laneface.edge.outbox.Outbox` and :class:`~laneface.edge.delivery.Deliverer`.

Each passage's body is committed to the outbox (``<data dir>/outbox/run.db``, :func:`run_outbox_path`) before
it is sent, so nothing is lost when the service is down: what is still pending at the end stays there and the
next ``laneface run --post`` or ``laneface outbox flush`` delivers it. A passage whose key (lane + passage_id)
is already in the outbox is not put again: its stored body is the one delivered (processing a passage again
gives other timings, so another body, which the service would refuse with 409).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from laneface.edge.delivery import Attempt, Deliverer
from laneface.edge.mapping import encode_body, passage_body
from laneface.edge.outbox import Outbox, passage_key
from laneface.retry import Backoff

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from laneface.pipeline.result import PassageResult

__all__ = ["PostReport", "ResultPoster", "run_outbox_path"]

logger = logging.getLogger(__name__)

KEEP_DELIVERED_S = 3600.0  # the lane edge's default: delivered bodies (face images) are dropped after it


def run_outbox_path(data_dir: Path) -> Path:
    """The outbox of ``laneface run --post`` and ``laneface outbox flush`` in a data directory."""
    return data_dir / "outbox" / "run.db"


@dataclass
class PostReport:
    """What a poster did: records ``stored`` (new), ``kept`` (already in the outbox), attempts by outcome in
    this process, and the outbox's counts by state at the end."""

    stored: int = 0
    kept: int = 0
    delivered: int = 0
    retried: int = 0
    rejected: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, attempt: Attempt) -> None:
        """The deliverer's ``on_attempt``."""
        if attempt.outcome == "delivered":
            self.delivered += 1
        elif attempt.outcome == "rejected":
            self.rejected += 1
        else:
            self.retried += 1

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    def as_json(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "kept": self.kept,
            "delivered": self.delivered,
            "retried": self.retried,
            "rejected": self.rejected,
            "outbox": dict(self.counts),
        }


class ResultPoster:
    """Puts passage results in an outbox and delivers it in a background thread (:meth:`start`);
    :meth:`drain` waits, bounded, for the backlog; :meth:`close` stops the thread and closes the outbox."""

    def __init__(
        self, outbox: Outbox, deliverer: Deliverer, *, images: bool = True, report: PostReport | None = None
    ) -> None:
        """``report`` should be the one whose :meth:`PostReport.count` is the deliverer's ``on_attempt``."""
        self.outbox = outbox
        self.deliverer = deliverer
        self.images = images
        self.report = report or PostReport()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def open(
        cls,
        path: Path,
        service_url: str | Sequence[str],
        api_key: str,
        *,
        images: bool = True,
        backoff: Backoff | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> ResultPoster:
        outbox = Outbox(path)
        report = PostReport()
        try:
            deliverer = Deliverer(
                outbox,
                service_url,
                api_key,
                backoff=backoff,
                timeout_s=timeout_s,
                transport=transport,
                on_attempt=report.count,
            )
        except BaseException:
            outbox.close()
            raise
        return cls(outbox, deliverer, images=images, report=report)

    def start(self) -> None:
        if self._thread is None:
            self._thread = self.deliverer.start(self._stop)

    def put(self, result: PassageResult) -> bool:
        """Commit the passage's record (True) or keep the one already stored under its key (False)."""
        key = passage_key(result.passage_id, result.lane)
        if self.outbox.has(key):
            self.report.kept += 1
            logger.info("passage %s is already in the outbox (%s): not stored again", key, self.outbox.path)
            self.deliverer.wake()
            return False
        self.outbox.put(key, encode_body(passage_body(result, result.started_at, images=self.images)))
        self.report.stored += 1
        self.deliverer.wake()
        return True

    def drain(self, timeout_s: float) -> PostReport:
        """Deliver until nothing is pending or ``timeout_s`` ran out; the report with the outbox's counts."""
        self.start()
        deadline = time.monotonic() + max(0.0, timeout_s)
        while self.outbox.counts()["pending"] and time.monotonic() < deadline:
            self.deliverer.wake()
            time.sleep(0.05)
        self.report.counts = self.outbox.counts()
        return self.report

    def close(self) -> None:
        self._stop.set()
        self.deliverer.wake()
        if self._thread is not None:
            self._thread.join(60.0)
            self._thread = None
        try:
            self.report.counts = self.outbox.counts()
            self.outbox.prune_delivered(time.time() - KEEP_DELIVERED_S)
        finally:
            self.deliverer.close()
            self.outbox.close()

    def __enter__(self) -> ResultPoster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

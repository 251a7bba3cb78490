"""The lane's side of the booth view: its pipeline's events go to the service (``POST /v1/lanes/{lane}/events``)
as they happen, and the officers' prompts come back with the answers.

Best effort by design: the booth view is live feedback, the record of a passage goes through the outbox. A
full queue drops its oldest events (counted), a failed post drops its batch after one retry and is logged
once per outage; nothing here can hold up the pipeline. Thumbnails (``thumbnail_jpeg_b64``) go to the service
only: :func:`fan_out` strips them from every other sink (stdout).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from laneface.errors import BackendUnavailableError

if TYPE_CHECKING:
    import httpx

__all__ = ["BoothLink", "OfficerPrompts", "fan_out"]

logger = logging.getLogger(__name__)

THUMBNAIL_KEY = "thumbnail_jpeg_b64"
EventSink = Callable[[Mapping[str, Any]], None]


class OfficerPrompts:
    """Prompts received from the service, waiting for the passage being processed (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[str] = []

    def add(self, messages: Sequence[str]) -> None:
        with self._lock:
            self._waiting.extend(messages)

    def take(self) -> list[str]:
        """The prompts given since the last call (the pipeline asks between frames)."""
        with self._lock:
            taken, self._waiting = self._waiting, []
        return taken


def fan_out(link: EventSink | None, *sinks: EventSink) -> Callable[[dict[str, Any]], None]:
    """One event sink for the pipeline: the whole event to ``link``, the event without its thumbnail to the
    other ``sinks``."""

    def sink(event: dict[str, Any]) -> None:
        if link is not None:
            link(event)
        plain = {k: v for k, v in event.items() if k != THUMBNAIL_KEY}
        for other in sinks:
            other(plain)

    return sink


class BoothLink:
    """Posts events in batches (at most ``batch`` per request) from a background thread; the prompts in the
    answers go to ``prompts`` and, as ``officer_prompt`` events, to ``emit`` (the lane's stdout, for its sign
    or speaker). With nothing to send for ``poll_s``, an empty post asks for prompts. ``transport`` replaces the
    network in tests."""

    def __init__(
        self,
        url: str,
        lane: str,
        api_key: str,
        prompts: OfficerPrompts,
        *,
        emit: EventSink | None = None,
        timeout_s: float = 5.0,
        max_queue: int = 1000,
        batch: int = 50,
        poll_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx is a dependency of the service extra
            raise BackendUnavailableError("the booth link needs httpx") from exc
        self.endpoint = f"{url.rstrip('/')}/v1/lanes/{lane}/events"
        self._headers = {"X-API-Key": api_key}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)), transport=transport)
        self._queue: collections.deque[Mapping[str, Any]] = collections.deque()
        self._max_queue, self._batch, self._poll_s = max_queue, batch, poll_s
        self._prompts, self._emit = prompts, emit
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failing = False
        self.posted = self.dropped = 0

    def __repr__(self) -> str:  # never show the key
        return f"BoothLink({self.endpoint!r})"

    def __call__(self, event: Mapping[str, Any]) -> None:
        with self._cond:
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
            self._cond.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="booth-link", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (for up to ``timeout_s``), then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._client.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._stopping:
                    self._cond.wait(self._poll_s)
                if not self._queue and self._stopping:
                    return
                # nothing to send for poll_s: an empty post asks for the officers' prompts all the same
                batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
            self.post(batch)

    def post(self, batch: Sequence[Mapping[str, Any]]) -> bool:
        """One post (retried once); False when the batch was dropped."""
        import httpx

        for attempt in (1, 2):
            try:
                response = self._client.post(self.endpoint, json={"events": list(batch)}, headers=self._headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    self._delivered(response.json().get("prompts", []), len(batch))
                    return True
                error = f"HTTP {response.status_code}: {response.text[:200]}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # a request the service will never take: no retry
            if attempt == 1:
                continue
        self.dropped += len(batch)
        if not self._failing:
            logger.warning("booth events not delivered (%s); the booth view misses them", error)
        self._failing = True
        return False

    def _delivered(self, prompts: Sequence[Mapping[str, Any]], count: int) -> None:
        self.posted += count
        if self._failing:
            logger.info("booth events delivered again")
        self._failing = False
        messages = [str(p.get("message")) for p in prompts if isinstance(p, Mapping) and p.get("message")]
        if messages:
            self._prompts.add(messages)
        if self._emit is not None:
            for p in prompts:
                self._emit({"event": "officer_prompt", **p})

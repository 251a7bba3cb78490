"""Delivery of the outbox to the central service: ``POST /v1/passages`` with retries, exponential backoff with
jitter and a cap, and the idempotency key in a header (the service's own key is passage_id + lane).

What an answer does to a record (:func:`classify`):

- 200 (already stored with the same body: an idempotent replay) or 201 (created): ``delivered``;
- 400, 409 (same key, different body), 410, 413, 415, 422: ``rejected``, kept with the reason;
- anything else (5xx, 401/403/404 — a lane key or URL to fix, not a bad record — 408, 425, 429, 3xx) and
  connection errors or timeouts: ``pending`` again, retried after :meth:`Backoff.delay` (``Retry-After`` is
  honoured up to the cap).

A transient failure also pauses the whole deliverer for the backoff of its consecutive failures, so an
outage of the service costs one request per pause, not one per record; the first success resets it.
Each post also tells the service how many records are pending in the outbox (header
``X-Laneface-Outbox-Backlog``), for its per-lane backlog metric; older services ignore it.
Records are sent earliest due first, so one record the service keeps failing on does not hold back the rest.

**Several replicas.** Given more than one service URL (replicas of one stateless service on one database), a
record whose post gets no answer or a 502/503/504 goes at once to the next URL, and the deliverer stays with
the one that answered. A post that reached a replica which stored it and then died before answering is
answered 200 by the other (the same key and body: an idempotent replay), so failing over duplicates nothing.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from laneface.edge.outbox import Outbox, OutboxRecord
from laneface.errors import BackendUnavailableError, ConfigError
from laneface.retry import Backoff

if TYPE_CHECKING:
    import httpx

__all__ = ["OUTBOX_BACKLOG_HEADER", "Attempt", "Deliverer", "Outcome", "classify"]

logger = logging.getLogger(__name__)

Outcome = Literal["delivered", "rejected", "retry"]
DELIVERED_STATUSES = frozenset({200, 201})
REJECTED_STATUSES = frozenset({400, 409, 410, 413, 415, 422})
PASSAGES_PATH = "/v1/passages"
FAILOVER_STATUSES = frozenset({502, 503, 504})  # a replica (or its proxy) that cannot serve: try the next one
# the lane's pending records (this one included) with every post: the service's outbox-backlog metric
OUTBOX_BACKLOG_HEADER = "X-Laneface-Outbox-Backlog"


def classify(status: int) -> Outcome:
    """What an HTTP status does to a record (see the module docstring)."""
    if status in DELIVERED_STATUSES:
        return "delivered"
    if status in REJECTED_STATUSES:
        return "rejected"
    return "retry"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of one record: its outcome, the HTTP status (``None`` when no answer came), the
    error or rejection reason, and the wait before the next attempt (retries only)."""

    key: str
    outcome: Outcome
    status: int | None
    error: str | None = None
    retry_in_s: float | None = None


def _error_of(response: httpx.Response) -> str:
    """``"<status> <code>: <message>"`` from the service's error body, or the start of the text."""
    text = response.text[:500]
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error" in body or "message" in body):
        return f"{response.status_code} {body.get('error', '')}: {body.get('message', '')}"[:500]
    return f"{response.status_code} {response.reason_phrase}: {text[:200]}"


def _retry_after(response: httpx.Response, now: float) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


class Deliverer:
    """Sends the due records of an :class:`Outbox` to ``service_url`` + ``/v1/passages``.

    ``service_url`` is one URL or several (replicas, tried in turn: the module docstring). ``transport``
    replaces the network (``httpx.MockTransport`` in tests); ``clock`` gives Unix seconds and ``rand`` the
    jitter's uniform draws. ``on_attempt`` is called after every attempt. The API key goes in ``X-API-Key`` and
    is never logged.
    """

    def __init__(
        self,
        outbox: Outbox,
        service_url: str | Sequence[str],
        api_key: str,
        *,
        backoff: Backoff | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_attempt: Callable[[Attempt], None] | None = None,
        batch: int = 16,
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise BackendUnavailableError("the lane's delivery needs httpx: pip install httpx") from None
        urls = [service_url] if isinstance(service_url, str) else list(service_url)
        if not urls:
            raise ConfigError("the lane needs at least one service URL")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"the service URL must start with http:// or https://, got {url!r}")
        if not api_key:
            raise ConfigError("the lane needs an API key of role 'lane'")
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        self.outbox = outbox
        self.endpoints = tuple(dict.fromkeys(u.rstrip("/") + PASSAGES_PATH for u in urls))
        self._current = 0  # the replica that answered last
        self.backoff = backoff or Backoff()
        self.batch = max(1, batch)
        self._clock = clock
        self._rand = rand
        self._on_attempt = on_attempt
        self._api_key = api_key
        self._failures = 0  # consecutive transient failures (any record)
        self._wake = threading.Event()
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def __repr__(self) -> str:  # never show the key
        return f"Deliverer(endpoints={list(self.endpoints)!r})"

    @property
    def endpoint(self) -> str:
        """The URL records go to now (the replica that answered last)."""
        return self.endpoints[self._current]

    def close(self) -> None:
        self._client.close()

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def pause_s(self) -> float:
        """How long the deliverer rests after the current run of transient failures (0 when none)."""
        return 0.0 if self._failures == 0 else self.backoff.delay(self._failures, self._rand())

    def wake(self) -> None:
        """A record was put: stop waiting for the next due time (a pause after failures still runs out)."""
        self._wake.set()

    # ------------------------------------------------------------------ one attempt
    def deliver(self, record: OutboxRecord) -> Attempt:
        """Send one record and record the outcome in the outbox."""
        import httpx

        headers = {
            "X-API-Key": self._api_key,
            "Idempotency-Key": record.key,
            "Content-Type": "application/json",
            OUTBOX_BACKLOG_HEADER: str(self.outbox.counts()["pending"]),
        }
        response: httpx.Response | None = None
        error = ""
        for turn in range(len(self.endpoints)):
            k = (self._current + turn) % len(self.endpoints)
            try:
                response = self._client.post(self.endpoints[k], content=record.body, headers=headers)
            except httpx.HTTPError as exc:
                response, error = None, f"{type(exc).__name__}: {exc}"[:500]
                continue
            if response.status_code in FAILOVER_STATUSES and turn + 1 < len(self.endpoints):
                continue  # this replica cannot serve: the next one may
            if k != self._current:
                logger.warning("delivering to %s (%s did not answer)", self.endpoints[k], self.endpoint)
                self._current = k
            break
        if response is None:
            return self._retry(record, None, error, None)
        outcome = classify(response.status_code)
        if outcome == "delivered":
            self.outbox.mark_delivered(record.key, status=response.status_code, receipt=response.text[:2000])
            self._failures = 0
            attempt = Attempt(record.key, "delivered", response.status_code)
        elif outcome == "rejected":
            reason = _error_of(response)
            self.outbox.mark_rejected(record.key, status=response.status_code, reason=reason)
            self._failures = 0  # the service answered: it is up
            logger.error("outbox record %s rejected by the service (kept in the outbox): %s", record.key, reason)
            attempt = Attempt(record.key, "rejected", response.status_code, reason)
        else:
            wait = _retry_after(response, self._clock())
            return self._retry(record, response.status_code, _error_of(response), wait)
        self._report(attempt)
        return attempt

    def _retry(self, record: OutboxRecord, status: int | None, error: str, retry_after: float | None) -> Attempt:
        self._failures += 1
        delay = self.backoff.delay(record.attempts + 1, self._rand())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff.max_s))
        self.outbox.mark_retry(record.key, next_attempt_at=self._clock() + delay, error=error, status=status)
        level = logging.ERROR if status in (401, 403, 404) else logging.WARNING
        logger.log(
            level,
            "delivery of %s failed (attempt %d), retry in %.1f s: %s",
            record.key,
            record.attempts + 1,
            delay,
            error,
        )
        attempt = Attempt(record.key, "retry", status, error, delay)
        self._report(attempt)
        return attempt

    def _report(self, attempt: Attempt) -> None:
        if self._on_attempt is not None:
            self._on_attempt(attempt)

    # ------------------------------------------------------------------ loops
    def run_once(self, stop: threading.Event | None = None) -> list[Attempt]:
        """Send the due records, in order, until one fails transiently (the service is probably down: the
        caller pauses for :meth:`pause_s`), none is due, or ``stop`` is set."""
        attempts: list[Attempt] = []
        while True:
            records = self.outbox.due(self.batch)
            if not records:
                return attempts
            for record in records:
                if stop is not None and stop.is_set():
                    return attempts
                attempt = self.deliver(record)
                attempts.append(attempt)
                if attempt.outcome == "retry":
                    return attempts

    def run(self, stop: threading.Event, *, idle_poll_s: float = 5.0) -> None:
        """Deliver until ``stop`` is set: after failures rest for :meth:`pause_s`, else sleep until the next
        due record, a :meth:`wake`, or ``idle_poll_s``."""
        while not stop.is_set():
            try:
                self.run_once(stop)
            except Exception:  # an outbox write failing (disk full...): keep the thread alive, try again later
                logger.exception("delivery loop error; retrying")
                self._failures += 1
            if stop.is_set():
                return
            pause = self.pause_s()
            if pause > 0:
                stop.wait(pause)
                continue
            next_due = self.outbox.next_due_at()
            wait = idle_poll_s if next_due is None else min(idle_poll_s, max(0.0, next_due - self._clock()))
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()

    def start(self, stop: threading.Event) -> threading.Thread:
        """Run :meth:`run` in a daemon thread."""
        thread = threading.Thread(target=self.run, args=(stop,), name="laneface-deliverer", daemon=True)
        thread.start()
        return thread

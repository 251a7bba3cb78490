"""The purge job on a schedule, inside the service: a daemon thread, a stop event and an injectable clock.

Each run purges with a horizon of one interval (plus the polling slack), so a record whose deadline
falls before the next run is deleted by this one: retention limits hold as deadlines, not as
"deadline + interval".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from laneface.records.clock import Clock, system_clock

__all__ = ["PurgeScheduler"]

log = logging.getLogger(__name__)

PurgeRun = Callable[[datetime, timedelta], object]


class PurgeScheduler:
    def __init__(
        self, run: PurgeRun, *, interval_s: float, clock: Clock = system_clock, poll_s: float | None = None
    ) -> None:
        self._run = run
        self._interval = timedelta(seconds=interval_s)
        self._poll_s = poll_s if poll_s is not None else min(interval_s, 10.0)
        self._clock = clock
        self._next_due: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.failures = 0

    @property
    def horizon(self) -> timedelta:
        return self._interval + timedelta(seconds=self._poll_s)

    def tick(self) -> bool:
        """Run the purge if it is due by the clock; True when it ran. Errors are logged, not raised."""
        now = self._clock()
        if self._next_due is not None and now < self._next_due:
            return False
        self._next_due = now + self._interval
        try:
            self._run(now, self.horizon)
            self.runs += 1
        except Exception:
            self.failures += 1
            log.exception("scheduled purge failed; it will run again in %s", self._interval)
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="laneface-purge", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while True:
            self.tick()
            if self._stop.wait(self._poll_s):
                return

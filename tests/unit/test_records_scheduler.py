"""The purge scheduler: runs when due by its (fake) clock, passes its interval as horizon, survives errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from laneface.records.clock import ManualClock
from laneface.records.scheduler import PurgeScheduler

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_runs_when_due_by_the_clock() -> None:
    clock = ManualClock(T0)
    calls: list[tuple[datetime, timedelta]] = []
    sched = PurgeScheduler(lambda now, h: calls.append((now, h)), interval_s=600, clock=clock, poll_s=5)
    assert sched.tick()
    assert not sched.tick()
    clock.advance(seconds=599)
    assert not sched.tick()
    clock.advance(seconds=1)
    assert sched.tick()
    assert [c[0] for c in calls] == [T0, T0 + timedelta(seconds=600)]
    assert all(h == timedelta(seconds=605) for _, h in calls)
    assert sched.runs == 2


def test_a_failing_run_is_logged_and_retried_next_interval() -> None:
    clock = ManualClock(T0)
    outcomes = iter([RuntimeError("db down"), None])

    def run(_now: datetime, _h: timedelta) -> None:
        exc = next(outcomes)
        if exc is not None:
            raise exc

    sched = PurgeScheduler(run, interval_s=60, clock=clock)
    assert sched.tick()
    clock.advance(minutes=1)
    assert sched.tick()
    assert (sched.failures, sched.runs) == (1, 1)


def test_thread_starts_runs_and_stops() -> None:
    ran = threading.Event()
    sched = PurgeScheduler(lambda _n, _h: ran.set(), interval_s=3600, poll_s=0.01)
    sched.start()
    try:
        assert ran.wait(5)
    finally:
        sched.stop()
    assert sched.runs == 1

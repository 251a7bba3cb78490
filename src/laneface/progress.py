"""Progress of long commands (``run``, ``sim``, ``bench lane``, ``eval lfw``, ``gallery enroll``).

:func:`progress_bar` yields a ``(done, total)`` callback. On a terminal it drives a rich bar with the count
and the time remaining; when stderr is not a terminal (a pipe, a log file, a CI job) it logs a line through
:mod:`logging` (logger ``laneface.progress``, level INFO, shown without ``--verbose``) every ``interval_s``
seconds or every ``step`` of the total, and at the end: ``label: done/total (pct), rate/s, ETA``. Log lines
go through the root handlers, so the CLI's log format applies to them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["PROGRESS_LOGGER", "ProgressLog", "format_eta", "progress_bar"]

PROGRESS_LOGGER = "laneface.progress"


def format_eta(seconds: float | None) -> str:
    """``h:mm:ss`` or ``m:ss``; ``?`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class ProgressLog:
    """The log-line form of the progress (see the module docstring); call it with ``(done, total)``."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        interval_s: float = 10.0,
        step: float = 0.1,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.interval_s = interval_s
        self.step = step
        self.logger = logger or logging.getLogger(PROGRESS_LOGGER)
        self._clock = clock
        self._start = clock()
        self._last_t = self._start
        self._last_done = 0
        self.done = 0
        self.lines = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.done = done
        now = self._clock()
        finished = self.total is not None and done >= self.total
        stepped = self.total is not None and self.total > 0 and done - self._last_done >= self.step * self.total
        if finished or stepped or now - self._last_t >= self.interval_s:
            self._log(now)

    def advance(self, n: int = 1) -> None:
        self(self.done + n)

    def _log(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else None
            self.logger.info(
                "%s: %d/%d (%.0f %%), %.2f/s, elapsed %s, ETA %s",
                self.label,
                self.done,
                self.total,
                100.0 * self.done / self.total,
                rate,
                format_eta(elapsed),
                format_eta(eta),
            )
        else:
            self.logger.info("%s: %d done, %.2f/s, elapsed %s", self.label, self.done, rate, format_eta(elapsed))
        self._last_t, self._last_done = now, self.done
        self.lines += 1


@contextmanager
def progress_bar(
    label: str,
    enabled: bool = True,
    *,
    total: int | None = None,
    stream: IO[str] | None = None,
    interval_s: float = 10.0,
    step: float = 0.1,
) -> Iterator[Callable[[int, int | None], None]]:
    """A ``(done, total)`` progress callback: a rich bar on a terminal ``stream`` (default stderr), else
    periodic log lines; nothing when not ``enabled``."""
    out = stream if stream is not None else sys.stderr
    if not enabled:
        yield _ignore
        return
    if not _isatty(out):
        logger = logging.getLogger(PROGRESS_LOGGER)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)  # progress is what a person waits for: shown without --verbose
        log = ProgressLog(label, total=total, interval_s=interval_s, step=step, logger=logger)
        yield log
        if log.total is None or log.done < log.total:
            log._log(log._clock())  # the final count, when the last call did not log it
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=out), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, completed=done, total=new_total)
            else:
                bar.update(task, completed=done)

        yield update


def _ignore(done: int, total: int | None = None) -> None:
    return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

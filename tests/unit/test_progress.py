"""Progress of long commands: log lines with done/total, rate and ETA when stderr is not a terminal."""

from __future__ import annotations

import io
import logging

import pytest

from laneface.progress import PROGRESS_LOGGER, ProgressLog, format_eta, progress_bar


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_log_lines_every_step_of_the_total_with_rate_and_eta(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = ProgressLog("passages", total=20, interval_s=1e9, step=0.25, clock=clock)
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        for done in range(1, 21):
            clock.t += 2.0
            log(done, 20)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert messages[0] == "passages: 5/20 (25 %), 0.50/s, elapsed 0:10, ETA 0:30"
    assert messages[-1].startswith("passages: 20/20 (100 %)") and messages[-1].endswith("ETA 0:00")


def test_log_lines_every_interval_when_the_steps_are_slow(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = ProgressLog("enrol", total=1000, interval_s=10.0, step=0.5, clock=clock)
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        for done in range(1, 31):
            clock.t += 1.0
            log(done)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == [
        "enrol: 10/1000 (1 %)",
        "enrol: 20/1000 (2 %)",
        "enrol: 30/1000 (3 %)",
    ]


def test_progress_bar_logs_when_the_stream_is_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER), progress_bar("run", stream=stream) as bar:
        for done in range(1, 4):
            bar(done, 3)
    assert stream.getvalue() == "", "no bar drawn into a pipe"
    assert any(r.getMessage().startswith("run: 3/3 (100 %)") for r in caplog.records)


def test_progress_is_shown_without_verbose(caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.WARNING)
    logging.getLogger(PROGRESS_LOGGER).setLevel(logging.NOTSET)
    try:
        with progress_bar("sim", stream=io.StringIO(), total=2) as bar:
            bar(2, None)
    finally:
        root.setLevel(old)
    assert any(r.getMessage().startswith("sim: 2/2") for r in caplog.records)


def test_disabled_progress_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), progress_bar("x", False, stream=io.StringIO()) as bar:
        bar(1, 1)
    assert not caplog.records


def test_format_eta() -> None:
    assert format_eta(None) == "?" and format_eta(float("nan")) == "?"
    assert format_eta(59.6) == "1:00" and format_eta(3725) == "1:02:05"

"""Time, injectable: every records function takes ``now`` or a :data:`Clock`, so tests control time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from laneface.errors import ConfigError

__all__ = ["Clock", "ManualClock", "as_utc", "parse_instant", "system_clock"]

Clock = Callable[[], datetime]
"""A function returning the current instant as a timezone-aware datetime."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(f"datetime {value.isoformat()} has no time zone; give an offset such as +00:00 or Z")
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with a zone offset (``2026-05-01T12:00:00Z``), as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ConfigError(f"not an ISO 8601 date-time: {text!r}") from None
    return as_utc(value)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``, e.g. ``advance(hours=12)``."""
        from datetime import timedelta

        self._now += timedelta(**delta)
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = as_utc(instant)

"""Fakes for the lane-edge tests."""

from __future__ import annotations

__all__ = ["Clock"]


class Clock:
    """A wall clock (Unix seconds) that moves only when a test sets ``t``."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

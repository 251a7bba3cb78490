"""Automatic passage segmentation: a passage starts when faces appear on the trigger camera and ends when
they have been gone for ``gap_s`` seconds. A pure state machine over (time, number of faces) checks, so it
is tested without cameras or detectors.

- Idle: ``min_hits`` consecutive checks with at least one face start a passage at the first of them,
  minus ``pre_s`` (the vehicle was arriving before the first face was seen).
- Active: a check with faces extends it; no face for ``gap_s`` ends it at the last face plus ``post_s``
  (``post_s <= gap_s``, so the end is never in the future). A passage reaching ``max_s`` is cut there and
  the next one starts at once (a vehicle that stops in the lane is split, nothing is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AutoSegmenter", "Segment"]


@dataclass(frozen=True)
class Segment:
    """A passage's time window (Unix seconds) ``(start, end]``."""

    start: float
    end: float


class AutoSegmenter:
    """See the module docstring. Feed :meth:`update` with increasing times."""

    def __init__(
        self, *, gap_s: float = 2.0, min_hits: int = 2, pre_s: float = 1.0, post_s: float = 1.0, max_s: float = 20.0
    ) -> None:
        if not gap_s > 0 or min_hits < 1 or pre_s < 0 or post_s < 0 or not max_s > 0:
            raise ValueError("gap_s and max_s must be positive, min_hits at least 1, pre_s and post_s not negative")
        if post_s > gap_s:
            raise ValueError("post_s must not exceed gap_s")
        self.gap_s, self.min_hits, self.pre_s, self.post_s, self.max_s = gap_s, min_hits, pre_s, post_s, max_s
        self._hits = 0
        self._first_hit: float | None = None
        self._start: float | None = None  # set while a passage is active
        self._last_hit = 0.0

    @property
    def active(self) -> bool:
        return self._start is not None

    def update(self, t: float, faces: int) -> Segment | None:
        """One check at time ``t`` that found ``faces`` faces; returns a finished passage, if any."""
        if self._start is None:
            if faces <= 0:
                self._hits, self._first_hit = 0, None
                return None
            self._hits += 1
            if self._first_hit is None:
                self._first_hit = t
            self._last_hit = t
            if self._hits >= self.min_hits:
                self._start = self._first_hit - self.pre_s
            return None
        if faces > 0:
            self._last_hit = t
            if t - self._start >= self.max_s:
                segment = Segment(self._start, t)
                self._start = t
                return segment
            return None
        if t - self._last_hit >= self.gap_s:
            return self._finish(self._start, self._last_hit + self.post_s)
        return None

    def flush(self, t: float) -> Segment | None:
        """End an active passage now (the lane stops): at ``t`` or the last face plus ``post_s``, the earlier."""
        if self._start is None:
            return None
        return self._finish(self._start, min(t, self._last_hit + self.post_s))

    def _finish(self, start: float, end: float) -> Segment:
        segment = Segment(start, max(end, start))
        self._start, self._first_hit, self._hits = None, None, 0
        return segment

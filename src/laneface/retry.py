"""Exponential backoff with jitter, shared by the lane's delivery (:mod:`laneface.edge.delivery`) and the
service load test (:mod:`laneface.evaluation.service_load`), which must retry the way lanes do."""

from __future__ import annotations

from dataclasses import dataclass

from laneface.errors import ConfigError

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: attempt ``n`` (1, 2, ...) waits ``min(max_s, initial_s * factor**(n-1))`` seconds,
    less a random share of at most ``jitter`` of it (``jitter=0.2``: between 80 % and 100 % of the delay), so
    that lanes that lost the service together do not come back in step."""

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.initial_s <= self.max_s:
            raise ConfigError(f"backoff needs 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}")
        if self.factor < 1.0:
            raise ConfigError(f"backoff factor must be at least 1, got {self.factor}")
        if not 0.0 <= self.jitter < 1.0:
            raise ConfigError(f"backoff jitter must lie in [0, 1), got {self.jitter}")

    def base(self, attempt: int) -> float:
        """The delay before jitter of failed attempt ``attempt`` (1-based)."""
        n = max(1, attempt)
        # the exponent is bounded so that a record failing for days cannot overflow the float
        return min(self.max_s, self.initial_s * self.factor ** min(n - 1, 1000))

    def delay(self, attempt: int, rand: float) -> float:
        """The wait after failed attempt ``attempt`` with ``rand`` uniform in [0, 1)."""
        return self.base(attempt) * (1.0 - self.jitter * min(max(rand, 0.0), 1.0))

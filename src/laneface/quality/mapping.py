"""OFIQ-style mapping of a measure's raw value to a 0-100 quality scalar.

``scalar = round(100 * clip(h * (a + s * sigmoid((x - x0) / w)), 0, 1))`` with ``sigmoid(t) = 1 / (1 + e^-t)``
and ``x = raw``, or ``x = |raw - center|`` when ``center`` is set (two-sided measures: head pose angles
around 0, mean luminance around mid-grey). A positive ``w`` gives a scalar that grows with ``x``, a negative
``w`` one that falls with it. The parameters live in the quality configuration
(``laneface/data/quality_profiles.toml``, ``[mappings.NAME]``), not in code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["SigmoidMapping"]


@dataclass(frozen=True)
class SigmoidMapping:
    """Parameters of one measure's raw-to-scalar mapping (see the module docstring)."""

    x0: float
    w: float
    h: float = 1.0
    a: float = 0.0
    s: float = 1.0
    center: float | None = None

    def __post_init__(self) -> None:
        values = [self.x0, self.w, self.h, self.a, self.s] + ([] if self.center is None else [self.center])
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError("mapping parameters must be finite numbers")
        if self.w == 0:
            raise ValueError("mapping width w must not be 0")

    def __call__(self, raw: float) -> float:
        """The 0-100 scalar of ``raw`` (an integer value, as a float)."""
        x = raw if self.center is None else abs(raw - self.center)
        t = max(-60.0, min(60.0, (x - self.x0) / self.w))
        value = self.h * (self.a + self.s / (1.0 + math.exp(-t)))
        return float(round(100.0 * min(1.0, max(0.0, value))))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SigmoidMapping:
        """Build from a configuration table with keys x0, w and optional h, a, s, center (ValueError if bad)."""
        allowed = {"x0", "w", "h", "a", "s", "center"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown mapping keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        missing = {"x0", "w"} - set(data)
        if missing:
            raise ValueError(f"mapping needs keys {sorted(missing)}")
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in data.values()):
            raise ValueError("mapping values must be numbers")
        return cls(**{k: float(v) for k, v in data.items()})

"""Small statistics helpers: numpy's median/percentile cost ~50 us of overhead each on tiny arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["quantile"]


def quantile(values: npt.NDArray[np.generic], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by nearest rank (no interpolation); ``values`` is not changed."""
    flat = np.ravel(values)
    if flat.size == 0:
        raise ValueError("quantile of an empty array")
    k = min(flat.size - 1, max(0, round(q * (flat.size - 1))))
    return float(np.partition(flat, k)[k])

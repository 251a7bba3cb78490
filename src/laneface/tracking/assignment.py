"""Maximum-weight bipartite assignment (Hungarian algorithm, Kuhn-Munkres with potentials) in plain
Python: the matrices here are small (faces in one frame, occupants x documents of one vehicle).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["max_weight_assignment"]


def _min_cost_square(cost: list[list[float]]) -> list[int]:
    """Column of each row in a minimum-cost perfect assignment of a square matrix."""
    n = len(cost)
    inf = math.inf
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    p = [0] * (n + 1)  # p[j]: row (1-based) assigned to column j
    way = [0] * (n + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = inf
            j1 = 0
            row = cost[i0 - 1]
            for j in range(1, n + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    out = [-1] * n
    for j in range(1, n + 1):
        if p[j]:
            out[p[j] - 1] = j - 1
    return out


def max_weight_assignment(weights: npt.ArrayLike, allowed: npt.ArrayLike | None = None) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` maximising the total weight, each row and each column used at most once.

    Only pairs that are ``allowed`` (default: ``weights > 0``) and have a positive weight are ever returned;
    a row may stay unassigned. Ties are broken deterministically (lowest indices first). Returns pairs
    sorted by row.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D matrix, got shape {w.shape}")
    ok = w > 0 if allowed is None else np.asarray(allowed, dtype=bool) & (w > 0)
    if ok.shape != w.shape:
        raise ValueError(f"allowed has shape {ok.shape}, weights {w.shape}")
    if not np.isfinite(w[ok]).all():
        raise ValueError("allowed weights must be finite")
    if w.size == 0 or not ok.any():
        return []
    # only rows and columns with an allowed pair can be assigned: a vehicle's few occupants against a list of
    # hundreds of documents is solved on the few columns any of them could take (the order kept: same ties)
    keep_rows, keep_cols = np.flatnonzero(ok.any(axis=1)), np.flatnonzero(ok.any(axis=0))
    sub_ok = ok[np.ix_(keep_rows, keep_cols)]
    rows, cols = sub_ok.shape
    n = max(rows, cols)
    cost = np.zeros((n, n), dtype=np.float64)
    cost[:rows, :cols] = np.where(sub_ok, -w[np.ix_(keep_rows, keep_cols)], 0.0)
    assigned = _min_cost_square(cost.tolist())
    return [
        (int(keep_rows[r]), int(keep_cols[c])) for r, c in enumerate(assigned) if r < rows and c < cols and sub_ok[r, c]
    ]

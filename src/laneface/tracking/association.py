"""Association of tracks (all cameras of a passage) into occupants.

Agglomerative clustering with constraints. Each pair of tracks has a margin: the cosine of their
templates less the threshold that applies to the pair. Two clusters are linked when the average margin
of their cross pairs is at least 0; the pair of clusters with the largest average margin is merged first,
until no pair qualifies.

* Cannot-link (never merged): two tracks of one camera that share a frame (two faces); rows more than
  ``max_row_gap`` apart; a track without a template. Different vehicle sides are not a cannot-link (a
  camera set up otherwise than :class:`~laneface.tracking.rows.RowModel` assumes must not split people).
* ``consistent_threshold`` (more lenient) applies when the geometry agrees: both vehicle sides known and
  equal, and the rows equal where both are known.
* ``link_threshold`` applies otherwise.

Thresholds are comparison scores: the pipeline takes them from the recognizer's calibrated thresholds
(at ``LaneConfig.link_fmr`` and ``LaneConfig.consistent_link_fmr``), so they follow the model's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from laneface.tracking.rows import Side
from laneface.tracking.tracker import FaceTrack
from laneface.types import Template

__all__ = ["AssociationConfig", "TrackSummary", "associate"]


@dataclass(frozen=True)
class AssociationConfig:
    link_threshold: float
    consistent_threshold: float | None = None  # default: link_threshold
    max_row_gap: int = 1


@dataclass(frozen=True)
class TrackSummary:
    """What the association reads of one track: the track, its camera's view, the template of its best
    shots (``None`` when none was made) and its row estimate."""

    track: FaceTrack
    view: str
    template: Template | None
    row: int | None
    side: Side | None = None


def _cannot_link(a: TrackSummary, b: TrackSummary, max_row_gap: int) -> bool:
    if a.template is None or b.template is None or a.track.overlaps(b.track):
        return True
    return a.row is not None and b.row is not None and abs(a.row - b.row) > max_row_gap


def _consistent(a: TrackSummary, b: TrackSummary) -> bool:
    rows_agree = a.row is None or b.row is None or a.row == b.row
    return a.side is not None and a.side == b.side and rows_agree


def associate(tracks: Sequence[TrackSummary], config: AssociationConfig) -> list[tuple[int, ...]]:
    """Clusters of track indices, one per occupant; each cluster sorted, clusters by their first index."""
    n = len(tracks)
    if n == 0:
        return []
    dim = next((t.template.dim for t in tracks if t.template is not None), 0)
    vectors = np.zeros((n, max(dim, 1)), dtype=np.float64)
    has = np.zeros(n, dtype=bool)
    for i, t in enumerate(tracks):
        if t.template is not None and t.template.dim == dim:
            vectors[i] = t.template.vector
            has[i] = True
    lenient = config.link_threshold if config.consistent_threshold is None else config.consistent_threshold
    margin: npt.NDArray[np.float64] = vectors @ vectors.T
    forbid = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = tracks[i], tracks[j]
            forbid[i, j] = forbid[j, i] = _cannot_link(a, b, config.max_row_gap) or not (has[i] and has[j])
            threshold = lenient if _consistent(a, b) else config.link_threshold
            margin[i, j] -= threshold
            margin[j, i] -= threshold
    clusters: list[list[int]] = [[i] for i in range(n)]
    while len(clusters) > 1:
        best: tuple[float, int, int] | None = None
        for x in range(len(clusters)):
            for y in range(x + 1, len(clusters)):
                cx, cy = clusters[x], clusters[y]
                if forbid[np.ix_(cx, cy)].any():
                    continue
                sim = float(margin[np.ix_(cx, cy)].mean())
                if sim >= 0.0 and (best is None or sim > best[0]):
                    best = (sim, x, y)
        if best is None:
            break
        _, x, y = best
        clusters[x] = sorted(clusters[x] + clusters[y])
        del clusters[y]
    return sorted((tuple(c) for c in clusters), key=lambda c: c[0])

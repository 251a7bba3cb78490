"""Calibration of decision thresholds from impostor scores (``laneface calibrate``).

Sources, for one model version:

* **LFW, whole directory**: every cross-identity pair of acquired images (about 87 million comparisons
  for 13,233 images) gives the FMR curve down to about 1e-7; the open-set protocol of
  :mod:`laneface.evaluation.onen` gives a measured FPIR curve at a gallery of 5,748 identities;
* **LFW pairs file**: only its non-mated pairs (3,000 in View 2: FMR down to about 3e-4);
* **the gallery itself**: ``searches`` enrolled documents (seeded sample) are compared with every other
  enrolled document (exactly, block by block): all those cross-document scores are impostor scores, and
  the best one of each is a non-mated search at a gallery of n-1 documents (measured FPIR). This
  assumes one document per person: pairs flagged as duplicates are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from laneface.errors import GalleryError
from laneface.gallery.store import Gallery
from laneface.gallery.thresholds import FpirCurve, ImpostorTail, ThresholdSet, fpir_points

__all__ = ["calibrate_from_gallery", "calibrate_from_pairs", "calibrated_at_now", "cross_identity_tail"]


def calibrated_at_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def cross_identity_tail(
    vectors: npt.NDArray[np.float32], labels: Sequence[str], acquired: npt.NDArray[np.bool_], block: int = 1024
) -> ImpostorTail:
    """Every pair (i < j) of acquired templates with different labels, streamed into an ImpostorTail."""
    keep = np.flatnonzero(acquired)
    v = np.ascontiguousarray(vectors[keep])
    lab = np.unique(np.asarray(labels)[keep], return_inverse=True)[1]
    tail = ImpostorTail()
    for start in range(0, len(v), block):
        stop = min(len(v), start + block)
        s = v[start:stop] @ v[start:].T  # rows i in block, columns j >= start
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(start, len(v))[None, :]
        mask = (cols > rows) & (lab[start:stop, None] != lab[None, start:])
        tail.add(s[mask])
    return tail


def calibrate_from_pairs(impostor_scores: npt.ArrayLike, model_version: str, source: str) -> ThresholdSet:
    tail = ImpostorTail()
    tail.add(np.asarray(impostor_scores, np.float32))
    return ThresholdSet(model_version, tail.n, tail.fmr_points(), None, source, calibrated_at_now())


def calibrate_from_gallery(gallery: Gallery, *, searches: int = 2000, seed: int = 0, block: int = 256) -> ThresholdSet:
    records: list[str] = []
    vecs: list[npt.NDArray[np.float32]] = []
    for doc_id, template in gallery.iter_templates():
        records.append(doc_id)
        vecs.append(template.vector)
    n = len(records)
    if n < 3:
        raise GalleryError(f"the gallery of {gallery.model_version!r} has {n} documents; calibration needs more")
    v = np.stack(vecs).astype(np.float32)
    pos = {d: i for i, d in enumerate(records)}
    dup_pairs = {
        (pos[f.doc_id], pos[f.other_doc_id])
        for f in gallery.duplicate_flags()
        if f.doc_id in pos and f.other_doc_id in pos
    }
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(n, size=min(searches, n), replace=False))
    tail = ImpostorTail()
    best = np.full(queries.size, -np.inf)
    for start in range(0, queries.size, block):
        q = queries[start : start + block]
        s = v[q] @ v.T
        s[np.arange(q.size), q] = -np.inf  # self
        for r, i in enumerate(q.tolist()):
            for a, b in dup_pairs:
                if a == i:
                    s[r, b] = -np.inf
                elif b == i:
                    s[r, a] = -np.inf
        best[start : start + q.size] = s.max(axis=1)
        tail.add(s[np.isfinite(s)])
    source = f"gallery of {n} documents: {queries.size} documents against all others"
    return ThresholdSet(
        model_version=gallery.model_version,
        comparisons=tail.n,
        fmr=tail.fmr_points(),
        fpir=FpirCurve(n - 1, int(queries.size), fpir_points(best), source + " (best score per search)"),
        source=source,
        calibrated_at=calibrated_at_now(),
    )

"""The VectorIndex protocol: ids and L2-normalised vectors in, top-k by inner product (cosine) out.

Contract (checked by ``tests/unit/test_gallery_index_contract.py`` for every backend against
:class:`~laneface.gallery.exact.ExactIndex`, the oracle):

* ids are non-negative int64, chosen by the caller; ``add`` of an id already present **replaces** its
  vector (upsert); ``remove`` of an absent id is ignored and not counted;
* vectors are float32 rows of length ``dim``; the caller L2-normalises them (``Template`` does), so the
  score is the cosine similarity, higher = more similar;
* ``search`` returns, per query, the ``k`` best ids by descending score; where fewer than ``k`` vectors
  are indexed, the rest of the row is ``id = -1`` and ``score = -inf``. Approximate indexes may miss true
  neighbours (that is what recall measures) but every score they return is the inner product of the
  query with that id's stored vector, up to their quantisation (exact for Flat and HNSW);
* ``flush`` makes the content durable at the index's location; reopening it gives the same content.
  ``close`` releases files and connections (an in-memory index may ignore both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["FloatMatrix", "IdArray", "SearchHits", "VectorIndex", "as_ids", "as_queries", "as_vectors"]

IdArray = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class SearchHits:
    """Top-k per query: ``ids`` (Q, k) int64 (``-1`` = no hit) and ``scores`` (Q, k) float32, descending
    along each row (``-inf`` where ``id == -1``)."""

    ids: IdArray
    scores: FloatMatrix

    def __post_init__(self) -> None:
        if self.ids.shape != self.scores.shape or self.ids.ndim != 2:
            raise ValueError(f"ids {self.ids.shape} and scores {self.scores.shape} must be equal (Q, k) shapes")

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def empty(cls, n_queries: int, k: int) -> SearchHits:
        return cls(np.full((n_queries, k), -1, np.int64), np.full((n_queries, k), -np.inf, np.float32))


@runtime_checkable
class VectorIndex(Protocol):
    """A store of (id, vector) searchable by inner product. See the module docstring for the contract."""

    @property
    def dim(self) -> int: ...

    @property
    def description(self) -> str:
        """Backend and configuration in a few words, e.g. ``faiss-hnsw(M=32,efSearch=128)``."""
        ...

    def __len__(self) -> int: ...

    def ids(self) -> IdArray:
        """Every id present, ascending."""
        ...

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None: ...

    def remove(self, ids: npt.ArrayLike) -> int:
        """Remove the ids present; return how many were removed."""
        ...

    def search(self, queries: npt.ArrayLike, k: int) -> SearchHits: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def as_ids(ids: npt.ArrayLike) -> IdArray:
    arr = np.atleast_1d(np.asarray(ids))
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D array of integers, got dtype {arr.dtype} shape {arr.shape}")
    out = arr.astype(np.int64, copy=False)
    if out.size and int(out.min()) < 0:
        raise ValueError("ids must be non-negative")
    return out


def as_vectors(vectors: npt.ArrayLike, dim: int, n: int | None = None) -> FloatMatrix:
    arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim or (n is not None and arr.shape[0] != n):
        want = f"({n if n is not None else 'N'}, {dim})"
        raise ValueError(f"vectors must have shape {want}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("vectors contain NaN or infinity")
    return arr


def as_queries(queries: npt.ArrayLike, dim: int, k: int) -> FloatMatrix:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return as_vectors(queries, dim)


def last_wins(ids: IdArray, vectors: FloatMatrix) -> tuple[IdArray, FloatMatrix]:
    """Keep the last occurrence of each id in a batch (an upsert batch may name one id twice)."""
    if ids.size < 2:
        return ids, vectors
    rev_unique, rev_first = np.unique(ids[::-1], return_index=True)
    if rev_unique.size == ids.size:
        return ids, vectors
    keep = np.sort(ids.size - 1 - rev_first)
    return ids[keep], vectors[keep]

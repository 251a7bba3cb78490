"""ExactIndex: brute-force inner product in numpy. The oracle every other backend is tested against,
and a fine backend for small galleries (one matrix-vector product per query)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.errors import IndexStateError
from laneface.gallery._files import current_generation, write_generation
from laneface.gallery.index import FloatMatrix, IdArray, SearchHits, as_ids, as_queries, as_vectors, last_wins

__all__ = ["ExactIndex", "top_k"]


def top_k(scores: npt.NDArray[np.float32], ids: IdArray, k: int) -> SearchHits:
    """Best ``k`` columns of ``scores`` (Q, n) per row, by descending score, equal scores by ascending id
    (among the ``k`` kept; which of several vectors tied at the k-th place is kept is unspecified)."""
    q, n = scores.shape
    out = SearchHits.empty(q, k)
    if n == 0 or q == 0:
        return out
    kk = min(k, n)
    cand = np.argpartition(-scores, kk - 1, axis=1)[:, :kk] if kk < n else np.broadcast_to(np.arange(n), (q, n))
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    cand_ids = ids[cand]
    order = np.lexsort((cand_ids, -cand_scores), axis=-1)
    out.ids[:, :kk] = np.take_along_axis(cand_ids, order, axis=1)
    out.scores[:, :kk] = np.take_along_axis(cand_scores, order, axis=1)
    return out


class ExactIndex:
    """Vectors in one float32 matrix; search = ``matrix @ query`` and a partial sort. Removal moves the last
    row into the hole. ``path`` (optional) is a directory for :meth:`flush`/:meth:`open`."""

    def __init__(self, dim: int, *, path: Path | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self._dim = int(dim)
        self._path = path
        self._ids: IdArray = np.zeros((0,), np.int64)
        self._vecs: FloatMatrix = np.zeros((0, self._dim), np.float32)
        self._n = 0
        self._pos: dict[int, int] = {}

    @classmethod
    def open(cls, path: Path, dim: int | None = None) -> ExactIndex:
        """The index saved under ``path``, or a new empty one there (then ``dim`` is required)."""
        gen = current_generation(path)
        if gen is None:
            if dim is None:
                raise IndexStateError(f"no exact index saved under {path} and no dimension given to create one")
            return cls(dim, path=path)
        try:
            meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
            ids = np.load(gen / "ids.npy", allow_pickle=False)
            vecs = np.load(gen / "vectors.npy", allow_pickle=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexStateError(f"exact index under {path} cannot be read: {exc}") from None
        if dim is not None and int(meta["dim"]) != dim:
            raise IndexStateError(f"exact index under {path} has dimension {meta['dim']}, expected {dim}")
        index = cls(int(meta["dim"]), path=path)
        index._bulk_load(np.asarray(ids, np.int64), np.asarray(vecs, np.float32))
        return index

    def _bulk_load(self, ids: IdArray, vecs: FloatMatrix) -> None:
        self._ids = ids.copy()
        self._vecs = np.ascontiguousarray(vecs)
        self._n = int(ids.size)
        self._pos = {int(i): r for r, i in enumerate(ids.tolist())}

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def description(self) -> str:
        return "exact-numpy"

    def __len__(self) -> int:
        return self._n

    def ids(self) -> IdArray:
        return np.sort(self._ids[: self._n])

    def vectors_of(self, ids: npt.ArrayLike) -> FloatMatrix:
        """Stored vectors of ``ids`` (KeyError for an absent id)."""
        rows = [self._pos[int(i)] for i in as_ids(ids)]
        return self._vecs[rows].copy()

    def _reserve(self, n: int) -> None:
        if n <= self._vecs.shape[0]:
            return
        cap = max(n, int(self._vecs.shape[0] * 1.5) + 16)
        vecs = np.zeros((cap, self._dim), np.float32)
        vecs[: self._n] = self._vecs[: self._n]
        ids = np.zeros((cap,), np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._vecs, self._ids = vecs, ids

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        id_arr = as_ids(ids)
        vecs = as_vectors(vectors, self._dim, id_arr.size)
        id_arr, vecs = last_wins(id_arr, vecs)
        self._reserve(self._n + id_arr.size)
        if self._n == 0:  # bulk load into an empty index
            self._ids[: id_arr.size] = id_arr
            self._vecs[: id_arr.size] = vecs
            self._n = int(id_arr.size)
            self._pos = dict(zip(id_arr.tolist(), range(self._n), strict=True))
            return
        for i, v in zip(id_arr.tolist(), vecs, strict=True):
            row = self._pos.get(i)
            if row is None:
                row = self._n
                self._n += 1
                self._pos[i] = row
                self._ids[row] = i
            self._vecs[row] = v

    def remove(self, ids: npt.ArrayLike) -> int:
        removed = 0
        for i in as_ids(ids).tolist():
            row = self._pos.pop(i, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:
                moved = int(self._ids[last])
                self._ids[row] = moved
                self._vecs[row] = self._vecs[last]
                self._pos[moved] = row
            self._n = last
            removed += 1
        return removed

    def search(self, queries: npt.ArrayLike, k: int) -> SearchHits:
        q = as_queries(queries, self._dim, k)
        n = self._n
        block = max(1, (1 << 25) // max(n, 1))  # at most 32M scores (128 MB) at a time
        parts = []
        for start in range(0, q.shape[0], block):
            scores = np.asarray(q[start : start + block] @ self._vecs[:n].T, dtype=np.float32)
            parts.append(top_k(scores, self._ids[:n], k))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return SearchHits.empty(0, k)
        return SearchHits(np.concatenate([p.ids for p in parts]), np.concatenate([p.scores for p in parts]))

    def flush(self) -> None:
        if self._path is None:
            return
        n = self._n

        def write(directory: Path) -> None:
            np.save(directory / "ids.npy", self._ids[:n])
            np.save(directory / "vectors.npy", self._vecs[:n])
            (directory / "meta.json").write_text(json.dumps({"kind": "exact", "dim": self._dim, "n": n}))

        write_generation(self._path, write)

    def close(self) -> None:
        return None

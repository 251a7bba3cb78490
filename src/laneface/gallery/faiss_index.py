"""FaissIndex: Flat, HNSW or IVF-PQ (faiss-cpu), chosen by size or by configuration; persisted; add/remove.

Kinds, all by inner product on L2-normalised vectors (score = cosine):

* ``flat``  exact brute force (``IndexFlatIP``); the default below ``flat_max`` (50k) vectors;
* ``hnsw``  graph search (``IndexHNSWFlat``, M=32, efSearch 512): at 1M x 128-d 6.7 ms p50 / 9.2 ms p99
  per query on one core at recall@1 0.995 against exact search (hard synthetic data), exact scores of the
  candidates it visits; the default up to ``hnsw_max`` (5M) vectors (memory: 4·d + ~8·M bytes
  per vector, so 128-d x 1M is about 0.8 GB);
* ``ivfpq`` inverted lists + product quantisation (``IndexIVFPQ``): ``pq_m`` bytes per vector, scores
  approximate; above ``hnsw_max``. It must be trained: the first ``add`` (or a kind change) trains it
  on the vectors given, which must number at least ``39 * nlist``.

Ids: faiss holds vectors under internal *labels* 0, 1, 2...; an array maps label -> external id and an
:class:`~laneface.gallery._idmap.IdLookup` maps id -> label. **Removal** (and the old vector of an upsert)
is a *tombstone*: the label is marked dead and searches pass faiss an ``IDSelectorBitmap`` of live
labels, so dead vectors are never returned (HNSW cannot delete from its graph). When dead labels exceed
``rebuild_dead_fraction`` (20%) of the index, it is compacted: Flat and HNSW are rebuilt from their own
(exact) stored vectors, IVF-PQ drops the dead codes with ``remove_ids``.

With ``kind="auto"`` the kind follows the number of live vectors: a bulk ``add`` into an empty index
builds the right kind at once; an index that grows past ``flat_max`` is rebuilt as HNSW, past
``hnsw_max`` as IVF-PQ (it never shrinks back).

Persistence: :meth:`flush` writes ``index.faiss`` (``faiss.write_index``), ``labels.npy`` and
``meta.json`` into a new generation directory and switches to it with an atomic rename
(:mod:`laneface.gallery._files`). faiss is imported here only.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from laneface.errors import IndexStateError
from laneface.gallery._files import current_generation, write_generation
from laneface.gallery._idmap import IdLookup
from laneface.gallery.index import FloatMatrix, IdArray, SearchHits, as_ids, as_queries, as_vectors, last_wins

__all__ = ["FaissConfig", "FaissIndex", "FaissKind"]

FaissKind = Literal["auto", "flat", "hnsw", "ivfpq"]
_ORDER = {"flat": 0, "hnsw": 1, "ivfpq": 2}


@dataclass(frozen=True)
class FaissConfig:
    """How a :class:`FaissIndex` is built and searched. ``None`` values are derived from the size."""

    kind: FaissKind = "auto"
    flat_max: int = 50_000
    hnsw_max: int = 5_000_000
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 512  # recall@1 0.995 at 1M x 128-d, p99 9.2 ms on one core (docs/benchmarks.md)
    ivf_nlist: int | None = None  # default: 4 * sqrt(n), rounded to a power of two
    pq_m: int | None = None  # bytes per vector; default: dim // 4
    pq_nbits: int = 8
    nprobe: int = 32
    rebuild_dead_fraction: float = 0.2

    def kind_for(self, n: int) -> Literal["flat", "hnsw", "ivfpq"]:
        if self.kind != "auto":
            return self.kind
        if n < self.flat_max:
            return "flat"
        return "hnsw" if n < self.hnsw_max else "ivfpq"

    def nlist_for(self, n: int) -> int:
        if self.ivf_nlist is not None:
            return self.ivf_nlist
        return int(2 ** round(math.log2(max(16.0, 4.0 * math.sqrt(max(n, 1))))))


def _faiss() -> Any:
    import faiss

    return faiss


class FaissIndex:
    """A faiss index of one kind with external int64 ids, tombstone removal and atomic persistence."""

    def __init__(self, dim: int, config: FaissConfig | None = None, *, path: Path | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self._dim = int(dim)
        self._config = config or FaissConfig()
        self._path = path
        self._kind: Literal["flat", "hnsw", "ivfpq"] | None = None
        self._index: Any = None
        self._labels: IdArray = np.zeros((0,), np.int64)  # label -> external id, -1 = dead
        self._next_label = 0
        self._dead = 0  # tombstones: labels still in faiss, filtered out at search
        self._gone = 0  # IVF-PQ labels removed from faiss by compaction
        self._lookup = IdLookup()
        self._bitmap: npt.NDArray[np.uint8] | None = None

    # ------------------------------------------------------------------ construction and persistence
    @classmethod
    def open(cls, path: Path, dim: int | None = None, config: FaissConfig | None = None) -> FaissIndex:
        """The index saved under ``path`` (its kind and build parameters are kept; search parameters
        come from ``config`` when given), or a new empty one there (then ``dim`` is required)."""
        gen = current_generation(path)
        if gen is None:
            if dim is None:
                raise IndexStateError(f"no faiss index saved under {path} and no dimension given to create one")
            return cls(dim, config, path=path)
        faiss = _faiss()
        try:
            meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
            labels = np.load(gen / "labels.npy", allow_pickle=False)
            raw = faiss.read_index(str(gen / "index.faiss"))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise IndexStateError(f"faiss index under {path} cannot be read: {exc}") from None
        if dim is not None and int(meta["dim"]) != dim:
            raise IndexStateError(f"faiss index under {path} has dimension {meta['dim']}, expected {dim}")
        saved = FaissConfig(**meta["config"])
        if config is not None:
            saved = replace(saved, ef_search=config.ef_search, nprobe=config.nprobe)
        index = cls(int(meta["dim"]), saved, path=path)
        index._index = raw
        index._kind = meta["kind"]
        index._labels = np.asarray(labels, np.int64)
        index._next_label = int(labels.size)
        index._dead = int(np.count_nonzero(index._labels == -1))
        index._gone = int(np.count_nonzero(index._labels == -2))
        live = np.flatnonzero(index._labels >= 0)
        index._lookup = IdLookup.from_arrays(index._labels[live], live.astype(np.int64))
        index._apply_search_params()
        return index

    def flush(self) -> None:
        if self._path is None:
            return
        faiss = _faiss()
        index = self._index if self._index is not None else self._new_index("flat", 0)
        kind = self._kind or "flat"

        def write(directory: Path) -> None:
            faiss.write_index(index, str(directory / "index.faiss"))
            np.save(directory / "labels.npy", self._labels[: self._next_label])
            meta = {"dim": self._dim, "kind": kind, "config": asdict(self._config), "live": len(self)}
            (directory / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

        write_generation(self._path, write)

    def close(self) -> None:
        return None

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        return self._kind or self._config.kind_for(0)

    @property
    def config(self) -> FaissConfig:
        return self._config

    @property
    def description(self) -> str:
        c = self._config
        kind = self.kind
        if kind == "hnsw":
            return f"faiss-hnsw(M={c.hnsw_m},efC={c.ef_construction},efSearch={c.ef_search})"
        if kind == "ivfpq":
            nlist = int(self._index.nlist) if self._index is not None else c.nlist_for(len(self))
            pq_m = int(self._index.pq.M) if self._index is not None else (c.pq_m or self._dim // 4)
            return f"faiss-ivfpq(nlist={nlist},m={pq_m}x{c.pq_nbits}bit,nprobe={c.nprobe})"
        return "faiss-flat"

    def __len__(self) -> int:
        return self._next_label - self._dead - self._gone

    def ids(self) -> IdArray:
        live = self._labels[: self._next_label]
        return np.sort(live[live >= 0])

    def memory_bytes(self) -> int:
        """Size of the serialised faiss index plus the id arrays (what a reload costs in memory)."""
        if self._index is None:
            return 0
        return int(_faiss().serialize_index(self._index).nbytes) + 16 * self._next_label

    def set_search_params(self, *, ef_search: int | None = None, nprobe: int | None = None) -> None:
        """Change search-time parameters (no rebuild): HNSW ``efSearch``, IVF ``nprobe``."""
        upd: dict[str, int] = {}
        if ef_search is not None:
            upd["ef_search"] = int(ef_search)
        if nprobe is not None:
            upd["nprobe"] = int(nprobe)
        self._config = replace(self._config, **upd)  # type: ignore[arg-type]
        self._apply_search_params()

    # ------------------------------------------------------------------ building
    def _new_index(self, kind: str, n_hint: int) -> Any:
        faiss = _faiss()
        c = self._config
        if kind == "flat":
            return faiss.IndexFlatIP(self._dim)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(self._dim, c.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = c.ef_construction
            index.hnsw.efSearch = c.ef_search
            return index
        pq_m = c.pq_m or max(1, self._dim // 4)
        if self._dim % pq_m:
            raise IndexStateError(f"pq_m={pq_m} must divide the dimension {self._dim}")
        quantizer = faiss.IndexFlatIP(self._dim)
        index = faiss.IndexIVFPQ(
            quantizer, self._dim, c.nlist_for(n_hint), pq_m, c.pq_nbits, faiss.METRIC_INNER_PRODUCT
        )
        index.nprobe = c.nprobe
        return index

    def _apply_search_params(self) -> None:
        if self._kind == "hnsw":
            self._index.hnsw.efSearch = self._config.ef_search
        elif self._kind == "ivfpq":
            self._index.nprobe = self._config.nprobe

    def _train(self, index: Any, sample: FloatMatrix) -> None:
        need = 39 * int(index.nlist)
        if sample.shape[0] < need:
            raise IndexStateError(
                f"IVF-PQ with nlist={index.nlist} needs at least {need} vectors to train, got {sample.shape[0]}; "
                "add more vectors in one batch, lower ivf_nlist, or use kind 'flat'/'hnsw'"
            )
        rng = np.random.default_rng(0)
        cap = max(64 * int(index.nlist), 64 * 2 ** int(index.pq.nbits))
        if sample.shape[0] > cap:
            sample = sample[np.sort(rng.choice(sample.shape[0], cap, replace=False))]
        index.train(np.ascontiguousarray(sample))

    def _append(self, ids: IdArray, vecs: FloatMatrix) -> None:
        """Add new labels for ``ids`` (none of them live)."""
        n = ids.size
        labels = np.arange(self._next_label, self._next_label + n, dtype=np.int64)
        if self._kind == "ivfpq":
            if not self._index.is_trained:
                self._train(self._index, vecs)
            self._index.add_with_ids(vecs, labels)
        else:
            self._index.add(vecs)
        if self._labels.size < self._next_label + n:
            grown = np.full((max(self._next_label + n, int(self._labels.size * 1.5) + 1024),), -1, np.int64)
            grown[: self._next_label] = self._labels[: self._next_label]
            self._labels = grown
        self._labels[labels] = ids
        self._next_label += n
        self._lookup.set(ids, labels)
        self._bitmap = None

    def _rebuild(self, kind: Literal["flat", "hnsw", "ivfpq"], extra_ids: IdArray, extra: FloatMatrix) -> None:
        """New index of ``kind`` holding the live vectors plus ``extra`` (compaction or kind change)."""
        live_labels = np.flatnonzero(self._labels[: self._next_label] >= 0)
        live_ids = self._labels[live_labels]
        if live_labels.size:
            if self._kind == "ivfpq":
                raise IndexStateError("an IVF-PQ index is not rebuilt from its own (lossy) codes")
            old = np.asarray(self._index.reconstruct_batch(live_labels), np.float32)
            vecs = np.concatenate([old, extra])
        else:
            vecs = extra
        ids = np.concatenate([live_ids, extra_ids])
        self._index = self._new_index(kind, int(ids.size))
        self._kind = kind
        self._labels = np.zeros((0,), np.int64)
        self._next_label = 0
        self._dead = 0
        self._gone = 0
        self._lookup = IdLookup()
        if ids.size:
            self._append(ids, np.ascontiguousarray(vecs))
        self._apply_search_params()

    def _compact(self) -> None:
        if self._dead == 0:
            return
        if self._kind == "ivfpq":
            dead = np.flatnonzero(self._labels[: self._next_label] == -1)
            self._index.remove_ids(_faiss().IDSelectorBatch(dead.astype(np.int64)))
            self._labels[dead] = -2  # gone from faiss; the slot stays so that later labels remain unique
            self._gone += int(dead.size)
            self._dead = 0
            self._bitmap = None
            return
        assert self._kind is not None
        self._rebuild(self._kind, np.zeros((0,), np.int64), np.zeros((0, self._dim), np.float32))

    # ------------------------------------------------------------------ VectorIndex
    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        id_arr = as_ids(ids)
        vecs = as_vectors(vectors, self._dim, id_arr.size)
        id_arr, vecs = last_wins(id_arr, vecs)
        if id_arr.size == 0:
            return
        self._kill(id_arr)
        target = self._config.kind_for(len(self) + id_arr.size)
        if self._kind is None or (_ORDER[target] > _ORDER[self._kind] and self._config.kind == "auto"):
            self._rebuild(target, id_arr, vecs)
        else:
            self._append(id_arr, vecs)
            self._maybe_compact()

    def _kill(self, ids: IdArray) -> int:
        labels = self._lookup.get(ids)
        labels = labels[labels >= 0]
        if labels.size:
            self._labels[labels] = -1
            self._dead += int(labels.size)
            self._lookup.delete(ids)
            self._bitmap = None
        return int(labels.size)

    def remove(self, ids: npt.ArrayLike) -> int:
        removed = self._kill(np.unique(as_ids(ids)))
        self._maybe_compact()
        return removed

    def _maybe_compact(self) -> None:
        if self._dead > self._config.rebuild_dead_fraction * max(1, self._next_label - self._gone):
            self._compact()

    def _selector_params(self) -> Any:
        faiss = _faiss()
        if self._kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = self._config.ef_search
        elif self._kind == "ivfpq":
            params = faiss.SearchParametersIVF()
            params.nprobe = self._config.nprobe
        else:
            params = faiss.SearchParameters()
        if self._bitmap is None:
            live = self._labels[: self._next_label] != -1
            self._bitmap = np.packbits(live, bitorder="little")
        params.sel = faiss.IDSelectorBitmap(self._bitmap.size, faiss.swig_ptr(self._bitmap))  # size in bytes
        return params

    def search(self, queries: npt.ArrayLike, k: int) -> SearchHits:
        q = as_queries(queries, self._dim, k)
        if self._index is None or len(self) == 0:
            return SearchHits.empty(q.shape[0], k)
        if self._dead:
            scores, labels = self._index.search(q, k, params=self._selector_params())
        else:
            scores, labels = self._index.search(q, k)
        labels = np.asarray(labels, np.int64)
        ids = np.where(labels >= 0, self._labels[np.maximum(labels, 0)], -1)
        scores = np.where(ids >= 0, np.asarray(scores, np.float32), np.float32(-np.inf)).astype(np.float32)
        return SearchHits(ids.astype(np.int64), scores)

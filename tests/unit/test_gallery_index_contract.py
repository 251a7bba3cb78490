"""One contract for every VectorIndex backend, checked against ExactIndex (the oracle) on seeded data.

Backends: ExactIndex, FaissIndex (flat, hnsw, ivfpq) and MilvusIndex on Milvus Lite (a tmp .db file;
slow, so it gets a smaller gallery). Approximate kinds must agree with the oracle on the top-1 of mated
queries at a stated recall, and every score they return must be the true inner product (IVF-PQ: within
its quantisation error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from laneface.errors import IndexStateError
from laneface.gallery.exact import ExactIndex
from laneface.gallery.faiss_index import FaissConfig, FaissIndex
from laneface.gallery.index import SearchHits, VectorIndex

DIM = 32


@dataclass(frozen=True)
class Backend:
    name: str
    make: Callable[[Path, int | None], VectorIndex]  # (location, dim or None to reopen)
    n: int  # gallery size used for this backend
    min_recall: float  # top-1 agreement with the oracle on mated queries
    score_tol: float  # |returned score - true inner product|


def _faiss(config: FaissConfig) -> Callable[[Path, int | None], VectorIndex]:
    return lambda path, dim: FaissIndex.open(path / "faiss", dim, config)


def _milvus(path: Path, dim: int | None) -> VectorIndex:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from laneface.gallery.milvus_index import MilvusIndex

    return MilvusIndex(str(path / "milvus.db"), "gallery", dim, index_type="HNSW")


BACKENDS = [
    Backend("exact", lambda p, d: ExactIndex.open(p / "exact", d), 1500, 1.0, 1e-5),
    Backend("faiss-flat", _faiss(FaissConfig(kind="flat")), 1500, 1.0, 1e-5),
    Backend("faiss-hnsw", _faiss(FaissConfig(kind="hnsw", hnsw_m=16, ef_search=64)), 1500, 0.98, 1e-5),
    Backend(
        "faiss-ivfpq",
        _faiss(FaissConfig(kind="ivfpq", ivf_nlist=8, pq_m=32, pq_nbits=8, nprobe=8)),
        800,
        0.9,
        0.05,
    ),
    Backend("milvus-lite", _milvus, 200, 0.98, 1e-4),
]


@pytest.fixture(autouse=True)
def _one_faiss_thread() -> Iterator[None]:
    """faiss' OpenMP threads crawl on an oversubscribed 2-core machine; tests need only one."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param  # type: ignore[no-any-return]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Data:
    ids: np.ndarray
    vectors: np.ndarray
    queries: np.ndarray  # mated probes of the first len(queries) gallery rows


def _data(n: int, n_queries: int = 60, seed: int = 7) -> Data:
    rng = np.random.default_rng(seed)
    n_queries = min(n_queries, n)
    centres = _unit(rng.standard_normal((20, DIM)))
    identities = _unit(0.6 * centres[rng.integers(0, 20, n)] + 0.8 * _unit(rng.standard_normal((n, DIM))))
    ids = rng.choice(10**12, size=n, replace=False).astype(np.int64)
    probes = _unit(identities[:n_queries] + 0.45 * _unit(rng.standard_normal((n_queries, DIM))))
    return Data(ids, identities, probes)


def _oracle(data: Data, keep: np.ndarray | None = None) -> ExactIndex:
    oracle = ExactIndex(DIM)
    mask = np.ones(len(data.ids), bool) if keep is None else keep
    oracle.add(data.ids[mask], data.vectors[mask])
    return oracle


def _check_against_oracle(b: Backend, index: VectorIndex, oracle: ExactIndex, data: Data, queries: np.ndarray) -> None:
    k = 5
    got, want = index.search(queries, k), oracle.search(queries, k)
    assert isinstance(got, SearchHits) and got.ids.shape == (len(queries), k) and got.scores.dtype == np.float32
    recall = float(np.mean(got.ids[:, 0] == want.ids[:, 0]))
    assert recall >= b.min_recall, f"{b.name}: top-1 agreement {recall:.3f} < {b.min_recall}"
    lookup = {int(i): v for i, v in zip(data.ids, data.vectors, strict=True)}
    for r in range(len(queries)):
        row_ids = [int(i) for i in got.ids[r] if i >= 0]
        assert len(set(row_ids)) == len(row_ids), "an id appears twice in one result row"
        assert all(i in lookup for i in row_ids)
        true = np.array([queries[r] @ lookup[i] for i in row_ids], np.float32)
        np.testing.assert_allclose(got.scores[r, : len(row_ids)], true, atol=b.score_tol)
        assert np.all(np.diff(got.scores[r, : len(row_ids)]) <= 1e-6), "scores must descend"


def test_backend_satisfies_the_protocol_and_starts_empty(backend: Backend, tmp_path: Path) -> None:
    index = backend.make(tmp_path, DIM)
    assert isinstance(index, VectorIndex)
    assert index.dim == DIM and len(index) == 0 and index.ids().size == 0
    assert isinstance(index.description, str) and index.description
    hits = index.search(_data(10).queries[:2], 3)
    assert (hits.ids == -1).all() and np.isneginf(hits.scores).all()
    index.close()


def test_add_search_remove_persist_reload_against_the_oracle(backend: Backend, tmp_path: Path) -> None:
    data = _data(backend.n)
    index = backend.make(tmp_path, DIM)
    index.add(data.ids, data.vectors)
    assert len(index) == backend.n
    np.testing.assert_array_equal(index.ids(), np.sort(data.ids))
    _check_against_oracle(backend, index, _oracle(data), data, data.queries)

    # remove a third of the mated rows (and an absent id): they never come back
    gone = data.ids[: len(data.queries) : 3]
    assert index.remove(np.append(gone, 10**13)) == len(gone)
    assert index.remove(gone) == 0
    keep = ~np.isin(data.ids, gone)
    assert len(index) == int(keep.sum())
    hits = index.search(data.queries, 5)
    assert not np.isin(hits.ids, gone).any()
    _check_against_oracle(backend, index, _oracle(data, keep), data, data.queries)

    # persist and reload: same content, same answers
    index.flush()
    before = index.search(data.queries, 5)
    index.close()
    reopened = backend.make(tmp_path, None)
    assert reopened.dim == DIM and len(reopened) == int(keep.sum())
    np.testing.assert_array_equal(reopened.ids(), np.sort(data.ids[keep]))
    after = reopened.search(data.queries, 5)
    np.testing.assert_array_equal(after.ids[:, 0], before.ids[:, 0])
    np.testing.assert_allclose(after.scores[:, 0], before.scores[:, 0], atol=1e-5)

    # removal after reload persists too
    again = data.ids[1 : len(data.queries) : 3]
    assert reopened.remove(again) == len(again)
    reopened.flush()
    reopened.close()
    third = backend.make(tmp_path, DIM)
    assert len(third) == int(keep.sum()) - len(again)
    assert not np.isin(third.search(data.queries, 5).ids, np.concatenate([gone, again])).any()
    third.close()


def test_add_of_a_present_id_replaces_its_vector(backend: Backend, tmp_path: Path) -> None:
    data = _data(backend.n)
    index = backend.make(tmp_path, DIM)
    index.add(data.ids, data.vectors)
    target = data.ids[:3]
    new = _unit(np.random.default_rng(99).standard_normal((3, DIM)))
    index.add(target, new)
    assert len(index) == backend.n
    hits = index.search(new, 1)
    np.testing.assert_array_equal(hits.ids[:, 0], target)
    np.testing.assert_allclose(hits.scores[:, 0], 1.0, atol=backend.score_tol)
    # one id twice in a batch: the last vector wins
    twice = _unit(np.random.default_rng(98).standard_normal((2, DIM)))
    index.add([target[0], target[0]], twice)
    assert len(index) == backend.n
    assert index.search(twice[1:], 1).ids[0, 0] == target[0]
    assert index.search(twice[:1], 1).ids[0, 0] != target[0]
    index.close()


def test_fewer_vectors_than_k_pads_with_minus_one(backend: Backend, tmp_path: Path) -> None:
    data = _data(backend.n)  # IVF-PQ must be trained on enough vectors: add them all, remove all but 3
    index = backend.make(tmp_path, DIM)
    index.add(data.ids, data.vectors)
    index.remove(data.ids[3:])
    n = len(index)
    assert n == 3
    hits = index.search(data.queries[:2], n + 2)
    assert (hits.ids[:, :n] >= 0).all() and (hits.ids[:, n:] == -1).all()
    assert np.isneginf(hits.scores[:, n:]).all()
    index.close()


def test_bad_shapes_are_refused(backend: Backend, tmp_path: Path) -> None:
    index = backend.make(tmp_path, DIM)
    with pytest.raises(ValueError):
        index.add([1, 2], np.zeros((2, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        index.add([-1], np.ones((1, DIM), np.float32))
    with pytest.raises(ValueError):
        index.search(np.ones((1, DIM), np.float32), 0)
    index.close()


def test_reopening_with_another_dimension_is_refused(backend: Backend, tmp_path: Path) -> None:
    data = _data(backend.n)
    index = backend.make(tmp_path, DIM)
    index.add(data.ids, data.vectors)
    index.flush()
    index.close()
    with pytest.raises(IndexStateError):
        backend.make(tmp_path, DIM * 2)

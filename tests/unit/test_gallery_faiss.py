"""FaissIndex specifics: kind chosen by size, tombstones and compaction, IVF-PQ training, the id lookup,
generations on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from laneface.errors import IndexStateError
from laneface.gallery._files import current_generation, write_generation
from laneface.gallery._idmap import IdLookup
from laneface.gallery.exact import ExactIndex
from laneface.gallery.faiss_index import FaissConfig, FaissIndex


@pytest.fixture(autouse=True)
def _one_faiss_thread() -> Iterator[None]:
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def _unit(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_kind_follows_the_size_in_auto_mode() -> None:
    cfg = FaissConfig(flat_max=100, hnsw_max=10_000)
    assert [cfg.kind_for(n) for n in (0, 99, 100, 9_999, 10_000)] == ["flat", "flat", "hnsw", "hnsw", "ivfpq"]
    assert FaissConfig(kind="ivfpq").kind_for(1) == "ivfpq"
    assert FaissConfig().nlist_for(1_000_000) == 4096


def test_an_auto_index_grows_from_flat_to_hnsw_and_keeps_its_content(tmp_path: Path) -> None:
    x = _unit(300)
    index = FaissIndex(16, FaissConfig(flat_max=100, ef_search=64), path=tmp_path / "ix")
    index.add(np.arange(50), x[:50])
    assert index.kind == "flat" and index.description == "faiss-flat"
    index.add(np.arange(50, 300), x[50:])
    assert index.kind == "hnsw" and index.description.startswith("faiss-hnsw(M=32")
    assert len(index) == 300
    hits = index.search(x[:20], 1)
    np.testing.assert_array_equal(hits.ids[:, 0], np.arange(20))
    index.flush()
    reopened = FaissIndex.open(tmp_path / "ix", config=FaissConfig(ef_search=99))
    assert reopened.kind == "hnsw" and "efSearch=99" in reopened.description
    # a bulk add into an empty auto index builds the right kind at once
    bulk = FaissIndex(16, FaissConfig(flat_max=100))
    bulk.add(np.arange(300), x)
    assert bulk.kind == "hnsw"


def test_tombstones_are_compacted_past_the_dead_fraction() -> None:
    x = _unit(200)
    index = FaissIndex(16, FaissConfig(kind="hnsw", rebuild_dead_fraction=0.2))
    index.add(np.arange(200), x)
    index.remove(np.arange(30))  # 15 %: tombstones only
    assert index._dead == 30 and index._next_label == 200
    assert not np.isin(index.search(x, 5).ids, np.arange(30)).any()
    index.remove(np.arange(30, 50))  # 25 %: rebuilt from the stored vectors
    assert index._dead == 0 and index._next_label == 150 and len(index) == 150
    hits = index.search(x[50:], 1)
    np.testing.assert_array_equal(hits.ids[:, 0], np.arange(50, 200))
    np.testing.assert_allclose(hits.scores[:, 0], 1.0, atol=1e-5)


def test_ivfpq_drops_dead_codes_in_place_and_keeps_labels_unique(tmp_path: Path) -> None:
    x = _unit(800, 16, seed=1)
    cfg = FaissConfig(kind="ivfpq", ivf_nlist=4, pq_m=16, pq_nbits=6, nprobe=4)
    index = FaissIndex(16, cfg, path=tmp_path / "pq")
    index.add(np.arange(800), x)
    index.remove(np.arange(400))
    assert index._gone == 400 and len(index) == 400
    index.add([5000], x[:1])  # a new label after compaction
    assert index.search(x[:1], 1).ids[0, 0] == 5000
    index.flush()
    again = FaissIndex.open(tmp_path / "pq")
    assert len(again) == 401 and again.search(x[:1], 1).ids[0, 0] == 5000
    assert not np.isin(again.search(x[:400], 3).ids, np.arange(400)).any()


def test_ivfpq_refuses_to_train_on_too_few_vectors() -> None:
    index = FaissIndex(16, FaissConfig(kind="ivfpq", ivf_nlist=64, pq_m=4))
    with pytest.raises(IndexStateError, match="needs at least 2496"):
        index.add(np.arange(100), _unit(100))
    with pytest.raises(IndexStateError, match="divide"):
        FaissIndex(16, FaissConfig(kind="ivfpq", pq_m=5)).add(np.arange(2000), _unit(2000))


def test_memory_bytes_counts_the_serialised_index() -> None:
    index = FaissIndex(16, FaissConfig(kind="flat"))
    assert index.memory_bytes() == 0
    index.add(np.arange(1000), _unit(1000))
    assert 64_000 <= index.memory_bytes() <= 100_000


def test_corrupt_index_files_are_a_specific_error(tmp_path: Path) -> None:
    index = FaissIndex(16, FaissConfig(kind="flat"), path=tmp_path / "ix")
    index.add(np.arange(10), _unit(10))
    index.flush()
    gen = current_generation(tmp_path / "ix")
    assert gen is not None
    (gen / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexStateError, match="cannot be read"):
        FaissIndex.open(tmp_path / "ix")
    with pytest.raises(IndexStateError, match="no faiss index"):
        FaissIndex.open(tmp_path / "empty")


def test_generations_switch_atomically_and_old_ones_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "g"
    assert current_generation(root) is None
    first = write_generation(root, lambda d: (d / "x").write_text("1"))
    second = write_generation(root, lambda d: (d / "x").write_text("2"))
    assert current_generation(root) == second and not first.exists()
    assert (second / "x").read_text() == "2"

    def crash(d: Path) -> None:
        (d / "x").write_text("3")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_generation(root, crash)
    assert current_generation(root) == second and (second / "x").read_text() == "2"
    write_generation(root, lambda d: (d / "x").write_text("4"))
    assert sorted(p.name for p in root.iterdir()) == ["CURRENT", "g000003"]


def test_id_lookup_matches_a_dict_through_inserts_updates_and_deletes() -> None:
    rng = np.random.default_rng(5)
    lookup = IdLookup()
    ref: dict[int, int] = {}
    label = 0
    for step in range(60):
        n = int(rng.integers(1, 9000 if step % 10 == 0 else 50))
        ids = np.unique(rng.integers(0, 50_000, n)).astype(np.int64)
        labels = np.arange(label, label + ids.size, dtype=np.int64)
        label += ids.size
        lookup.set(ids, labels)
        ref.update(zip(ids.tolist(), labels.tolist(), strict=True))
        gone = np.unique(rng.integers(0, 50_000, 20)).astype(np.int64)
        lookup.delete(gone)
        for g in gone.tolist():
            ref.pop(g, None)
        probe = rng.integers(0, 50_000, 500).astype(np.int64)
        np.testing.assert_array_equal(lookup.get(probe), [ref.get(int(p), -1) for p in probe])


def test_exact_index_ties_resolve_by_id_and_large_batches_are_blocked() -> None:
    index = ExactIndex(4)
    v = np.array([[1, 0, 0, 0]], np.float32)
    index.add([7, 3, 5], np.repeat(v, 3, axis=0))
    np.testing.assert_array_equal(index.search(v, 3).ids[0], [3, 5, 7])
    big = ExactIndex(16)
    x = _unit(2000)
    big.add(np.arange(2000), x)
    hits = big.search(x, 2)  # several blocks internally
    np.testing.assert_array_equal(hits.ids[:, 0], np.arange(2000))
    np.testing.assert_array_equal(big.vectors_of([4, 2]), x[[4, 2]])


def test_repeated_upserts_are_compacted_too() -> None:
    x = _unit(100)
    index = FaissIndex(16, FaissConfig(kind="hnsw"))
    index.add(np.arange(100), x)
    for _ in range(3):
        index.add(np.arange(10), _unit(10, seed=9))
    assert len(index) == 100 and index._dead <= 20 and index._next_label < 130
    np.testing.assert_array_equal(index.search(_unit(10, seed=9), 1).ids[:, 0], np.arange(10))

"""The product's Milvus gallery (``Gallery`` on ``MilvusIndex``) against a real Milvus standalone server.

The unit tests run the same code on Milvus Lite; this one runs it on the ``milvus`` 2.3.5 wheel's server
(``LANEFACE_TEST_MILVUS_SERVER``: the path of its ``milvus-server``, which ``.ci/run`` installs in a virtual
environment of its own). Unset: skipped, except under ``CI=true``, where it fails. Two server starts: enrol,
1:N search (ids and scores against exact dot products), removal, then a restart on the same data after
which every remaining template is found with the same scores, the removed ones stay removed, and the staged
candidate lists decide (a vehicle list, then 1:N through the server). Then two replicas on one gallery: the
metadata in one database (SQLite and PostgreSQL), the vectors in the server's collection; what either enrols or
removes, the other finds or no longer finds, and a replica configured with only the database reaches the server
the gallery was created with.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from milvusserver import MILVUS_ENV, MilvusServer

MODEL = "milvus-server-test@v1"
N, DIM, K = 40, 64, 5  # every Strong-consistency call waits on the server (about 0.3 s)


def _server_executable() -> Path:
    value = os.environ.get(MILVUS_ENV)
    if not value:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set but {MILVUS_ENV} is not: the Milvus server tests must run in CI")
        pytest.skip(f"{MILVUS_ENV} is not set (Milvus server tests run in CI)")
    path = Path(value)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{MILVUS_ENV}={value} is not an executable milvus-server")
    return path


@pytest.fixture(scope="module")
def milvus_server() -> Iterator[MilvusServer]:
    executable = _server_executable()
    pytest.importorskip("pymilvus")
    server = MilvusServer(executable)
    try:
        server.start()
        yield server
    finally:
        server.remove()


def _templates() -> npt.NDArray[np.float32]:
    v = np.random.default_rng(7).standard_normal((N, DIM)).astype(np.float32)
    out: npt.NDArray[np.float32] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _exact(
    gallery: npt.NDArray[np.float32], keep: list[int], probe: npt.NDArray[np.float32]
) -> list[tuple[str, float]]:
    scores = gallery[keep] @ probe
    order = np.argsort(-scores, kind="stable")[:K]
    return [(f"D{keep[i]:04d}", float(scores[i])) for i in order]


def test_gallery_on_a_milvus_server_survives_a_restart(milvus_server: MilvusServer, tmp_path: Path) -> None:
    from laneface.gallery.milvus_index import MilvusIndex
    from laneface.gallery.store import Gallery, GalleryConfig, _milvus_collection
    from laneface.gallery.thresholds import ThresholdSet
    from laneface.matching import Matcher
    from laneface.pipeline.identify import CandidateList, identify
    from laneface.types import Template

    vectors = _templates()
    config = GalleryConfig(backend="milvus", milvus_uri=milvus_server.uri)
    removed = list(range(0, N, 7))
    kept = [i for i in range(N) if i not in set(removed)]
    probes = np.random.default_rng(8).standard_normal((10, DIM)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)

    def check_search(g: Gallery, alive: list[int]) -> dict[str, list[tuple[str, float]]]:
        found: dict[str, list[tuple[str, float]]] = {}
        for i in alive:  # every template finds itself first, with its own dot product (1.0)
            hits = g.search(Template(vectors[i], MODEL), K)
            assert hits[0].doc_id == f"D{i:04d}", i
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)
            found[f"D{i:04d}"] = [(h.doc_id, h.score) for h in hits]
        for p in probes:  # random probes: the exact top K, ids and scores
            hits = g.search(Template(p, MODEL), K)
            want = _exact(vectors, alive, p)
            assert [h.doc_id for h in hits] == [d for d, _ in want]
            assert [h.score for h in hits] == pytest.approx([s for _, s in want], abs=1e-4)
        return found

    with Gallery.open(tmp_path, MODEL, config=config) as g:
        for i in range(N):
            g.enrol(f"D{i:04d}", Template(vectors[i], MODEL))
        assert len(g) == N and g.index_description.startswith("milvus-hnsw")
        check_search(g, list(range(N)))
        for i in removed:
            assert g.remove(f"D{i:04d}")
        assert len(g) == len(kept)
        for i in removed:  # gone: never returned, even for its own template
            hits = g.search(Template(vectors[i], MODEL), K)
            assert f"D{i:04d}" not in {h.doc_id for h in hits}
            assert hits[0].score < 0.99
        before = check_search(g, kept)

    milvus_server.restart()
    config = GalleryConfig(backend="milvus", milvus_uri=milvus_server.uri)  # the port may have moved up

    with Gallery.open(tmp_path, MODEL, config=config) as g:
        assert len(g) == len(kept)
        after = check_search(g, kept)
        for doc_id, hits in before.items():
            assert [d for d, _ in after[doc_id]] == [d for d, _ in hits]
            assert [s for _, s in after[doc_id]] == pytest.approx([s for _, s in hits], abs=1e-5)
        for i in removed:
            assert f"D{i:04d}" not in {h.doc_id for h in g.search(Template(vectors[i], MODEL), K)}
        assert g.reconcile() == (0, 0)
        # the staged lists on the server's gallery: a vehicle list (one document of it removed), then 1:N
        matcher = Matcher(g, ThresholdSet(MODEL, 10**10, tuple((10.0**-k, 0.25 + 0.06 * k) for k in range(1, 11))))
        a, b, c = (f"D{i:04d}" for i in kept[:3])
        lists = [CandidateList("vehicle", (a, f"D{removed[1]:04d}", b))]
        out = identify(matcher, [Template(vectors[kept[i]], MODEL) for i in range(3)], [], lists=lists)
        assert [(m.doc_id, m.stage, m.list_size) for m in out] == [
            (a, "vehicle", 2),
            (b, "vehicle", 2),
            (c, "gallery", len(kept)),
        ]

    index = MilvusIndex(milvus_server.uri, _milvus_collection(MODEL))  # the index on its own: ids, dimension
    try:
        assert index.dim == DIM and len(index) == len(kept)
        with Gallery.open(tmp_path, MODEL, config=config) as g:
            want = sorted(g.document(f"D{i:04d}").vec_id for i in kept)  # type: ignore[union-attr]
        assert index.ids().tolist() == want
    finally:
        index.close()


def test_two_replicas_share_one_gallery_on_the_server(
    milvus_server: MilvusServer, database_url: str, tmp_path: Path
) -> None:
    from laneface.gallery.store import Gallery, GalleryConfig
    from laneface.types import Template

    model = MODEL + "-shared"
    vectors = _templates()
    config = GalleryConfig(backend="milvus", milvus_uri=milvus_server.uri, metadata_url=database_url)
    half = N // 2
    with (
        Gallery.open(tmp_path / "a", model, config=config) as a,
        Gallery.open(tmp_path / "b", model, config=config) as b,
    ):
        for i in range(half):
            a.enrol(f"D{i:04d}", Template(vectors[i], model))
            b.enrol(f"D{half + i:04d}", Template(vectors[half + i], model))
        for g, i in ((a, half + 3), (b, 3)):  # each finds what the other enrolled
            hits = g.search(Template(vectors[i], model), K)
            assert hits[0].doc_id == f"D{i:04d}" and hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert b.remove("D0003")
        assert "D0003" not in {h.doc_id for h in a.search(Template(vectors[3], model), K)}
        assert len(a) == len(b) == N - 1
    only_db = GalleryConfig(metadata_url=database_url)  # a lane configured with the database alone
    with Gallery.open(tmp_path / "lane", model, config=only_db, create=False) as lane:
        assert lane.config.backend == "milvus" and lane.config.milvus_uri == milvus_server.uri
        assert lane.search(Template(vectors[half + 5], model), 1)[0].doc_id == f"D{half + 5:04d}"

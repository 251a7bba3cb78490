"""Gallery: layout under the data dir, one gallery per model version, backends, search, removal."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from laneface.errors import DocumentNotFoundError, GalleryError
from laneface.gallery._files import current_generation
from laneface.gallery.store import Gallery, GalleryConfig, gallery_dir, list_galleries
from laneface.types import Template, TemplateBatch

MODEL = "store-model@v1+abc"


def _t(seed: int, model: str = MODEL, d: int = 16) -> Template:
    v = np.random.default_rng(seed).standard_normal(d).astype(np.float32)
    return Template(v / np.linalg.norm(v), model)


def test_layout_one_gallery_per_model_version(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, MODEL) as g:
        assert len(g) == 0 and g.dim is None and g.search(_t(0), 3) == []
        g.enrol("A", _t(1), doc_type="P", citizenship="XYZ", attributes={"k": "v"})
        assert g.dim == 16 and g.index_description == "faiss-flat"
    with Gallery.open(tmp_path, "other-model@v2") as g2:
        g2.enrol("A", _t(1, "other-model@v2", d=8))
    root = gallery_dir(tmp_path, MODEL)
    assert root == tmp_path / "gallery" / MODEL
    assert (root / "gallery.sqlite").is_file() and current_generation(root / "index") is not None
    infos = {i.model_version: i for i in list_galleries(tmp_path)}
    assert set(infos) == {MODEL, "other-model@v2"}
    assert infos[MODEL].documents == 1 and infos[MODEL].backend == "faiss" and infos[MODEL].index == "faiss-flat"


def test_unsafe_characters_in_a_model_version_stay_inside_the_data_dir(tmp_path: Path) -> None:
    root = gallery_dir(tmp_path, "../../evil/model v1")
    assert root.parent == tmp_path / "gallery" and "/" not in root.name and root.name != ".."


def test_open_without_create_and_backend_changes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery.open(tmp_path, MODEL, create=False)
    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact")) as g:
        g.enrol("A", _t(1))
    with pytest.raises(GalleryError, match="backend 'exact'"):
        Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="faiss"))
    with Gallery.open(tmp_path, MODEL) as g:  # no config: the stored backend
        assert g.config.backend == "exact" and g.index_description == "exact-numpy"
        assert g.search(_t(1), 1)[0].doc_id == "A"
    with pytest.raises(GalleryError, match="model version"):
        Gallery.open(tmp_path, "")


def test_search_ranks_remove_and_errors(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, MODEL) as g:
        for i in range(20):
            g.enrol(f"D{i:02d}", _t(i))
        hits = g.search(_t(7), 5)
        assert hits[0].doc_id == "D07" and [h.rank for h in hits] == [1, 2, 3, 4, 5]
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        batch = g.search_batch(TemplateBatch(np.stack([_t(3).vector, _t(4).vector]), MODEL), 1)
        assert [b[0].doc_id for b in batch] == ["D03", "D04"]
        assert g.remove("D07") and not g.remove("D07")
        assert all(h.doc_id != "D07" for h in g.search(_t(7), 20)) and len(g) == 19
        with pytest.raises(DocumentNotFoundError):
            g.template("D07")
        assert set(g.templates(["D01", "D07"])) == {"D01"}
        with pytest.raises(GalleryError, match="doc_id"):
            g.enrol("", _t(1))
        assert [d for d, _ in g.iter_templates()][:2] == ["D00", "D01"]


def test_the_index_is_checkpointed_every_n_writes(tmp_path: Path) -> None:
    g = Gallery.open(tmp_path, MODEL, config=GalleryConfig(checkpoint_every=3))
    index_dir = gallery_dir(tmp_path, MODEL) / "index"
    g.enrol("A", _t(1))
    g.enrol("B", _t(2))
    assert current_generation(index_dir) is None
    g.enrol("C", _t(3))
    assert current_generation(index_dir) is not None
    g.close()


def test_a_gallery_on_milvus_lite(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    config = GalleryConfig(backend="milvus", milvus_uri=str(tmp_path / "milvus.db"))
    with Gallery.open(tmp_path, MODEL, config=config) as g:
        for i in range(5):
            g.enrol(f"D{i}", _t(i))
        g.enrol("D2", _t(42))  # re-enrolment replaces
        assert len(g) == 5 and g.search(_t(42), 1)[0].doc_id == "D2"
        assert g.search(_t(2), 5)[0].doc_id != "D2" or g.search(_t(2), 5)[0].score < 0.99
        assert g.index_description.startswith("milvus-hnsw")
    with Gallery.open(tmp_path, MODEL, config=config) as g:
        assert g.search(_t(3), 1)[0].doc_id == "D3"
        assert g.reconcile() == (0, 0)

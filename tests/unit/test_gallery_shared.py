"""One gallery shared by several processes: its metadata in one database (``[gallery] metadata_url``), each
process with its own embedded index (FAISS or exact) that catches up with the others' writes before it searches.
Two ``Gallery`` objects on two data directories stand for two service replicas (or a replica and a lane)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from laneface.config import load_settings
from laneface.errors import ConfigError, GalleryError
from laneface.gallery.store import Gallery, GalleryConfig, gallery_config, list_galleries
from laneface.types import Template

MODEL = "shared-model@v1"
PER_WRITER = 100  # enough interleaving that writers without the lock collide (they do at this count)


def _t(seed: int, d: int = 16, model: str = MODEL) -> Template:
    v = np.random.default_rng(seed).standard_normal(d).astype(np.float32)
    return Template(v / np.linalg.norm(v), model)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'srv' / 'shared.db'}"  # its directory is made on first use


@pytest.mark.parametrize("backend", ["faiss", "exact"])
def test_what_one_replica_writes_the_other_searches(tmp_path: Path, backend: str) -> None:
    config = GalleryConfig(backend=backend, metadata_url=_url(tmp_path))  # type: ignore[arg-type]
    with (
        Gallery.open(tmp_path / "a", MODEL, config=config) as a,
        Gallery.open(tmp_path / "b", MODEL, config=config) as b,
    ):
        assert b.search(_t(1), 3) == [] and b.dim is None
        a.enrol("D1", _t(1), doc_type="P")
        a.enrol("D2", _t(2))
        hits = b.search(_t(1), 3)  # b's index opens and takes in a's templates
        assert [h.doc_id for h in hits][:1] == ["D1"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert len(b) == 2 and b.document("D1") is not None and b.document("D1").doc_type == "P"  # type: ignore[union-attr]
        assert b.remove("D1")
        assert [h.doc_id for h in a.search(_t(1), 3)] == ["D2"]  # a no longer finds what b removed
        b.enrol("D2", _t(3))  # re-enrolment on b: a finds the new template only
        hits = a.search(_t(3), 3)
        assert [h.doc_id for h in hits] == ["D2"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
        a.record_failure("D2", image="x.jpg", image_sha256="", reason="no face", profile="document")
        assert b.search(_t(3), 3) == [] and b.failure("D2") is not None
    # the replicas' own index files are brought in line on open as well
    with Gallery.open(tmp_path / "c", MODEL, config=config) as c:
        c.enrol("D4", _t(4))
    with Gallery.open(tmp_path / "a", MODEL, config=config) as a:
        assert a.index_description and [h.doc_id for h in a.search(_t(4), 3)] == ["D4"]


def test_own_writes_do_not_make_a_replica_reconcile(tmp_path: Path) -> None:
    config = GalleryConfig(metadata_url=_url(tmp_path))
    with (
        Gallery.open(tmp_path / "a", MODEL, config=config) as a,
        Gallery.open(tmp_path / "b", MODEL, config=config) as b,
    ):
        a.enrol("D1", _t(1))
        assert a.refresh() is False  # only a wrote: its index is already in line
        a.remove("D1")
        assert a.refresh() is False
        assert b.refresh() is True and b.refresh() is False  # b looks once, then has nothing to do
        b.enrol("D2", _t(2))
        assert a.refresh() is True and [h.doc_id for h in a.search(_t(2), 1)] == ["D2"]


def enrol_at_once(root: Path, config: GalleryConfig, per_writer: int, model: str = MODEL) -> None:
    """Replicas ``a`` and ``b`` under ``root`` enrol ``per_writer`` documents each (``a-i``: template seed i,
    ``b-i``: 1000 + i) and both re-enrol ``BOTH`` every time, at once, searching now and then."""
    errors: list[BaseException] = []

    def writer(name: str, offset: int) -> None:
        try:
            with Gallery.open(root / name, model, config=config) as g:
                for i in range(per_writer):
                    g.enrol(f"{name}-{i}", _t(offset + i, model=model))
                    g.enrol("BOTH", _t(5000 + offset + i, model=model))
                    if i % 10 == 0:
                        g.search(_t(offset, model=model), 3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n, k * 1000)) for k, n in enumerate(("a", "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_writers_never_share_a_vector_id(tmp_path: Path) -> None:
    config = GalleryConfig(backend="exact", metadata_url=_url(tmp_path))
    enrol_at_once(tmp_path, config, PER_WRITER)
    with Gallery.open(tmp_path / "c", MODEL, config=config) as c:
        assert len(c) == 2 * PER_WRITER + 1
        docs = [c.document(f"{n}-{i}") for n in ("a", "b") for i in range(PER_WRITER)] + [c.document("BOTH")]
        vec_ids = [d.vec_id for d in docs if d is not None]
        assert len(vec_ids) == len(set(vec_ids)) == 2 * PER_WRITER + 1
        for n, offset in (("a", 0), ("b", 1000)):
            assert c.search(_t(offset + 7), 1)[0].doc_id == f"{n}-7"


def test_settings_name_the_shared_database(tmp_path: Path) -> None:
    pg = "postgresql+psycopg://u:p@db/laneface"
    settings = load_settings(data_dir=tmp_path, gallery__metadata_url="records", records__database_url=pg)
    assert gallery_config(settings).metadata_url == pg
    with pytest.raises(ConfigError, match="a file of its own"):  # SQLite records: the gallery can't share the file
        gallery_config(load_settings(data_dir=tmp_path, gallery__metadata_url="records"))
    config = gallery_config(load_settings(data_dir=tmp_path, gallery__metadata_url=_url(tmp_path)))
    assert config.metadata_url == _url(tmp_path) and config.backend is None
    assert gallery_config(load_settings(data_dir=tmp_path)).metadata_url == ""
    with Gallery.open(tmp_path / "a", MODEL, config=config) as g:
        g.enrol("D1", _t(1))
        assert g.config.backend == "faiss"
    infos = list_galleries(tmp_path / "elsewhere", config)
    assert [(i.model_version, i.documents, i.backend) for i in infos] == [(MODEL, 1, "faiss")]
    assert infos[0].metadata.startswith("sqlite:///") and list_galleries(tmp_path / "elsewhere") == []


def test_unusable_shared_databases_are_named(tmp_path: Path) -> None:
    with pytest.raises(GalleryError, match=r"gallery\.metadata_url .nosuch://x."):
        Gallery.open(tmp_path, MODEL, config=GalleryConfig(metadata_url="nosuch://x"))
    with pytest.raises(GalleryError, match=r"cannot use the gallery database .*metadata_url"):
        Gallery.open(tmp_path, MODEL, config=GalleryConfig(metadata_url="sqlite:////dev/null/x.db"))
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(GalleryError, match=r"cannot use the gallery database .*dir\.db .*metadata_url"):
        Gallery.open(tmp_path, MODEL, config=GalleryConfig(metadata_url=f"sqlite:///{tmp_path / 'dir.db'}"))
    with pytest.raises(GalleryError, match=r"no gallery for model .* in sqlite"):
        Gallery.open(tmp_path, MODEL, config=GalleryConfig(metadata_url=_url(tmp_path)), create=False)
    config = GalleryConfig(backend="exact", metadata_url=_url(tmp_path))
    with Gallery.open(tmp_path / "a", MODEL, config=config) as g:
        g.enrol("D1", _t(1))
    with pytest.raises(GalleryError, match="backend 'exact', not 'faiss'"):
        Gallery.open(tmp_path / "b", MODEL, config=GalleryConfig(backend="faiss", metadata_url=_url(tmp_path)))


def test_a_milvus_gallery_reopens_on_the_server_it_was_created_with(tmp_path: Path) -> None:
    from laneface.gallery.metadata import MetadataStore

    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="milvus", milvus_uri="http://milvus:19530")) as g:
        assert g.dim is None  # nothing enrolled: no connection was needed
    meta = MetadataStore.open_file(tmp_path / "gallery" / MODEL / "gallery.sqlite")
    try:
        assert meta.get_meta("milvus_uri") == "http://milvus:19530" and meta.get_meta("backend") == "milvus"
    finally:
        meta.close()
    with Gallery.open(tmp_path, MODEL) as g:  # no configuration: the stored server, not a local Milvus Lite file
        assert g.config.backend == "milvus" and g.config.milvus_uri == "http://milvus:19530"
    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(milvus_uri="http://milvus-b:19530")) as g:
        assert g.config.milvus_uri == "http://milvus-b:19530"  # the server moved: the gallery remembers the new one
    with Gallery.open(tmp_path, MODEL) as g:
        assert g.config.milvus_uri == "http://milvus-b:19530"


def test_a_replica_catches_up_from_the_change_log_not_the_whole_gallery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import laneface.gallery.metadata as metadata

    config = GalleryConfig(metadata_url=_url(tmp_path))
    with (
        Gallery.open(tmp_path / "a", MODEL, config=config) as a,
        Gallery.open(tmp_path / "b", MODEL, config=config) as b,
    ):
        for i in range(5):
            a.enrol(f"D{i}", _t(i))
        b.search(_t(0), 1)  # b's index opens: compared whole once

        def whole(**_kw: object) -> tuple[int, int]:
            raise AssertionError("reconciled whole")

        monkeypatch.setattr(b, "reconcile", whole)
        a.enrol("D1", _t(11))  # re-enrolment: old vector out, new one in
        a.remove("D2")
        a.enrol("D5", _t(5))
        a.enrol("D6", _t(6))
        a.remove("D6")  # enrolled and removed between two looks of b
        assert {h.doc_id for h in b.search(_t(1), 10)} == {"D0", "D1", "D3", "D4", "D5"}
        assert b.search(_t(11), 1)[0].score == pytest.approx(1.0, abs=1e-5)
        assert b.search(_t(1), 1)[0].score < 0.99 and b.search(_t(6), 1)[0].doc_id != "D6"
        # when the removal log was pruned past what b saw, b compares the whole gallery instead
        monkeypatch.undo()
        monkeypatch.setattr(metadata, "_REMOVALS_KEPT", 1)
        monkeypatch.setattr(metadata, "_PRUNE_EVERY", 1)
        calls: list[int] = []
        real = b.reconcile

        def counted(**kw: bool) -> tuple[int, int]:
            calls.append(1)
            return real(**kw)

        monkeypatch.setattr(b, "reconcile", counted)
        for i in range(3, 5):
            a.remove(f"D{i}")
        a.enrol("D7", _t(7))
        assert {h.doc_id for h in b.search(_t(7), 10)} == {"D0", "D1", "D5", "D7"} and calls == [1]

"""A gallery whose metadata lives in the records database (``[gallery] metadata_url = "records"``): beside the
records' tables, on SQLite and on PostgreSQL, written by two replicas at once (a row lock on the gallery's write
counter keeps vector ids unique), each replica's own FAISS index catching up with the other's writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, inspect
from tests.unit.test_gallery_shared import enrol_at_once

from laneface.gallery.store import Gallery, GalleryConfig, list_galleries
from laneface.records.migrate import upgrade
from laneface.types import Template

MODEL = "shared-db-model@v1"
PER_WRITER = 60


def _t(seed: int, d: int = 16) -> Template:
    v = np.random.default_rng(seed).standard_normal(d).astype(np.float32)
    return Template(v / np.linalg.norm(v), MODEL)


def test_two_replicas_write_one_gallery_in_the_records_database(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    try:
        upgrade(engine)  # the records' schema first, as `laneface serve` makes it
        records_tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    config = GalleryConfig(metadata_url=database_url)
    enrol_at_once(tmp_path, config, PER_WRITER, MODEL)
    with (
        Gallery.open(tmp_path / "a", MODEL, config=config) as a,
        Gallery.open(tmp_path / "b", MODEL, config=config) as b,
    ):
        assert len(a) == len(b) == 2 * PER_WRITER + 1
        vec_ids = [d.vec_id for n in ("a", "b") for i in range(PER_WRITER) if (d := a.document(f"{n}-{i}"))]
        assert len(vec_ids) == len(set(vec_ids)) == 2 * PER_WRITER
        for g in (a, b):  # each replica finds the other's documents
            assert g.search(_t(7), 1)[0].doc_id == "a-7" and g.search(_t(1007), 1)[0].doc_id == "b-7"
        assert a.remove("b-7")
        assert b.search(_t(1007), 1)[0].doc_id != "b-7"
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert records_tables < tables  # the records' tables are untouched, the gallery's sit beside them
    assert all(t.startswith("lfg_") or t == "laneface_galleries" for t in tables - records_tables)
    infos = list_galleries(tmp_path / "none", config)
    assert [(i.model_version, i.documents) for i in infos] == [(MODEL, 2 * PER_WRITER)]

"""Alembic migrations up and down on SQLite and PostgreSQL; the migrated schema equals the table models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from laneface.cli.records import db_app
from laneface.config import load_settings
from laneface.errors import DatabaseError
from laneface.records import migrate
from laneface.records.database import make_engine
from laneface.records.tables import Base

TABLES = {
    "audit_events",
    "biometric_blobs",
    "crossings",
    "document_photos",
    "documents",
    "ledger_entries",
    "occupants",
    "retention_rules",
    "reviews",
    "travellers",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_") and key != "LANEFACE_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)


def test_upgrade_matches_models_and_downgrade_to_base(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate.current_revision(engine) is None
        with pytest.raises(DatabaseError, match="db upgrade"):
            migrate.require_current(engine)
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        migrate.require_current(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert not TABLES & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)  # and up again
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_unknown_revision_is_a_clear_error(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(DatabaseError, match="nope"):
            migrate.upgrade(engine, "nope")
    finally:
        engine.dispose()


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, data_dir: Path = typer.Option(...)) -> None:  # noqa: B008
        ctx.obj = load_settings(data_dir=data_dir)

    app.add_typer(db_app, name="db")
    return app


def test_db_commands(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANEFACE_RECORDS__DATABASE_URL", database_url)
    runner, app, base = CliRunner(), _cli(), ["--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*base, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert migrate.head_revision() in result.output
    result = runner.invoke(app, [*base, "db", "current"])
    assert json.loads(result.output) == {"current": migrate.head_revision(), "head": migrate.head_revision()}
    result = runner.invoke(app, [*base, "db", "downgrade", "--revision", "base"])
    assert result.exit_code == 0 and "base" in result.output


def test_sqlite_default_lives_in_the_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["--data-dir", str(tmp_path / "d"), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    db = tmp_path / "d" / "records.db"
    assert db.is_file()
    assert db.stat().st_mode & 0o077 == 0  # personal data: owner only


def test_upgrade_from_the_first_revision_adds_the_dashboard_indexes_and_keeps_rows(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0001_initial")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO retention_rules (id, kind, citizenship, max_age_hours, updated_at, updated_by) "
                    "VALUES (1, 'face_image', 'UTO', 12, '2026-01-01 00:00:00+00:00', 'test')"
                )
            )

        def indexes() -> set[str]:
            found = set()
            for table in ("occupants", "reviews"):
                found |= {str(i["name"]) for i in inspect(engine).get_indexes(table)}
            return found

        assert not {"ix_occupants_decision", "ix_reviews_decided_at"} & indexes()
        migrate.upgrade(engine)
        assert {"ix_occupants_decision", "ix_reviews_decided_at"} <= indexes()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM retention_rules")).scalar_one() == 1
        migrate.downgrade(engine, "0001_initial")
        assert not {"ix_occupants_decision", "ix_reviews_decided_at"} & indexes()
    finally:
        engine.dispose()


def test_upgrade_to_0003_keeps_documents_with_no_flags_and_downgrades(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0002_review_indexes")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO travellers (id, traveller_ref, citizenship, biometric_opt_out, created_at) "
                    "VALUES (1, 'T1', 'UTO', false, '2026-01-01 00:00:00+00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO documents (id, doc_id, doc_type, traveller_id, enrolled, created_at) "
                    "VALUES (1, 'D1', 'passport', 1, true, '2026-01-01 00:00:00+00:00')"
                )
            )
        assert "document_photos" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert "document_photos" in inspect(engine).get_table_names()
        assert "threshold" in {c["name"] for c in inspect(engine).get_columns("occupants")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT quality_flags_json FROM documents")).scalar_one() == "[]"
        migrate.downgrade(engine, "0002_review_indexes")
        assert "document_photos" not in inspect(engine).get_table_names()
        assert "quality_flags_json" not in {c["name"] for c in inspect(engine).get_columns("documents")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT doc_id FROM documents")).scalar_one() == "D1"
    finally:
        engine.dispose()


_T0 = "'2026-01-01 00:00:00+00:00'"
_ROWS_0002 = [
    "INSERT INTO travellers (id, traveller_ref, citizenship, biometric_opt_out, created_at) "
    f"VALUES (1, 'T1', 'UTO', false, {_T0})",
    f"INSERT INTO documents (id, doc_id, doc_type, traveller_id, enrolled, created_at) "
    f"VALUES (1, 'D1', 'passport', 1, true, {_T0})",
    "INSERT INTO crossings (id, passage_id, lane, direction, started_at, received_at, occupant_count, "
    f"complete_capture, timing_json, body_sha256) VALUES (1, 'P1', 'L1', 'inbound', {_T0}, {_T0}, 1, true, "
    "NULL, 'ab')",
    "INSERT INTO occupants (id, crossing_id, occupant_id, row, quality, quality_passed, decision, doc_id, "
    "score, model_version, withheld_reason) VALUES (1, 1, 'o1', 0, 0.9, true, 'match', 'D1', 0.8, 'm', NULL)",
    "INSERT INTO biometric_blobs (id, occupant_pk, kind, created_at, key_id, content_type, ciphertext) "
    f"VALUES ('b1', 1, 'face_image', {_T0}, 'k1', 'image/jpeg', :blob)",
    "INSERT INTO reviews (id, occupant_pk, decision, doc_id, officer, note, decided_at) "
    f"VALUES (1, 1, 'confirmed', 'D1', 'officer1', NULL, {_T0})",
    "INSERT INTO ledger_entries (id, traveller_id, document_id, occupant_pk, movement, at, source) "
    f"VALUES (1, 1, 1, 1, 'arrival', {_T0}, 'automatic')",
]
_KEPT = ("travellers", "documents", "crossings", "occupants", "biometric_blobs", "reviews", "ledger_entries")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in _KEPT}


def _fill(engine: Engine, *, at_head: bool = False) -> None:
    with engine.begin() as conn:
        for sql in _ROWS_0002:
            if at_head and sql.startswith("INSERT INTO documents"):  # 0003 adds a NOT NULL column
                sql = sql.replace("enrolled, created_at)", "enrolled, created_at, quality_flags_json)")
                sql = sql.replace(f"{_T0})", f"{_T0}, '[]')")
            conn.execute(text(sql), {"blob": b"\x00\x01"} if ":blob" in sql else {})


def test_upgrade_to_0003_keeps_every_linked_row(database_url: str) -> None:
    """SQLite rebuilds ``documents`` (batch mode): with foreign keys enforced that failed on the ledger."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0002_review_indexes")
        _fill(engine)
        every_one = dict.fromkeys(_KEPT, 1)
        assert _counts(engine) == every_one
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert _counts(engine) == every_one
        with engine.connect() as conn:  # foreign keys are enforced again afterwards
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def test_downgrade_from_0003_keeps_every_linked_row(database_url: str) -> None:
    """SQLite rebuilds ``occupants`` (batch mode): with foreign keys enforced, dropping the old table
    cascaded away the ledger entries, reviews and biometric blobs."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        _fill(engine, at_head=True)
        every_one = dict.fromkeys(_KEPT, 1)
        assert _counts(engine) == every_one
        migrate.downgrade(engine, "0002_review_indexes")
        assert migrate.current_revision(engine) == "0002_review_indexes"
        assert _counts(engine) == every_one
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        engine.dispose()


def test_a_failed_sqlite_upgrade_leaves_the_previous_revision_whole(tmp_path: Path) -> None:
    """A migration that cannot finish rolls back entirely: no half-migrated database."""
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    try:
        migrate.upgrade(engine, "0002_review_indexes")
        _fill(engine)
        with engine.connect() as conn:  # an orphan that only an unchecked write could have left
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.execute(
                text(
                    "INSERT INTO ledger_entries (id, traveller_id, document_id, occupant_pk, movement, at, "
                    f"source) VALUES (2, 1, 99, 99, 'departure', {_T0}, 'automatic')"
                )
            )
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        with pytest.raises(DatabaseError, match="foreign key"):
            migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0002_review_indexes"
        assert "document_photos" not in inspect(engine).get_table_names()
        assert "quality_flags_json" not in {c["name"] for c in inspect(engine).get_columns("documents")}
        assert "threshold" not in {c["name"] for c in inspect(engine).get_columns("occupants")}
    finally:
        engine.dispose()

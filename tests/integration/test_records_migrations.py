"""Alembic migrations up and down on SQLite and PostgreSQL; the migrated schema equals the table models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
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

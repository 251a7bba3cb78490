"""Alembic migrations run programmatically (``laneface db upgrade`` / ``downgrade``, or ``serve`` at start).

The migration scripts live inside the package (``laneface/records/migrations``), so an installed wheel can
migrate its own database without an ``alembic.ini``.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from laneface.errors import DatabaseError

__all__ = ["current_revision", "downgrade", "head_revision", "require_current", "upgrade"]

log = logging.getLogger(__name__)
SCRIPT_LOCATION = "laneface.records:migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise DatabaseError("no migration scripts found in the laneface package")
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the schema revision: {type(exc).__name__}") from None


def _run(engine: Engine, verb: str, revision: str) -> None:
    cfg = _config()
    try:
        if engine.dialect.name == "sqlite":
            _run_sqlite(engine, cfg, verb, revision)
        else:
            with engine.begin() as conn:
                _migrate(cfg, conn, verb, revision)
    except CommandError as exc:
        raise DatabaseError(f"cannot {verb} to {revision!r}: {exc}") from None
    except SQLAlchemyError as exc:
        raise DatabaseError(f"database {verb} failed: {type(exc).__name__}") from exc
    log.info("records database %sd to %s", verb, revision)


def _migrate(cfg: Config, conn: Connection, verb: str, revision: str) -> None:
    cfg.attributes["connection"] = conn
    if verb == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


def _run_sqlite(engine: Engine, cfg: Config, verb: str, revision: str) -> None:
    """SQLite alters a table by rebuilding it (Alembic's batch mode: copy, drop, rename). With foreign keys
    enforced, dropping the old table fails on rows that reference it, or cascades their deletion; and the
    sqlite3 driver does not wrap DDL in a transaction, so a failure would leave a half-migrated file.

    So, on one connection: foreign keys off (a pragma that only changes outside a transaction), one explicit
    transaction around every migration step, ``PRAGMA foreign_key_check`` before the commit (a violation
    rolls everything back), then foreign keys on again, as SQLite's own procedure for altering a table."""
    with engine.connect() as conn:
        raw: Any = conn.connection.driver_connection
        saved = raw.isolation_level
        raw.isolation_level = None  # the driver opens no transaction of its own: BEGIN below is the only one
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                _migrate(cfg, conn, verb, revision)
                violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if violations:
                    tables = sorted({str(row[0]) for row in violations})
                    raise DatabaseError(
                        f"database {verb} to {revision!r} rolled back: {len(violations)} row(s) break a "
                        f"foreign key in {', '.join(tables)}"
                    )
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
            raw.isolation_level = saved


def upgrade(engine: Engine, revision: str = "head") -> None:
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, "downgrade", revision)


def require_current(engine: Engine) -> None:
    """Refuse to run on a schema older (or newer) than this code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise DatabaseError(
            f"records database is at revision {current or 'none'}, this laneface needs {head}: "
            "run `laneface db upgrade`"
        )

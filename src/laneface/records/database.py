"""Engine and session factory for the records database (SQLite embedded default, or PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from laneface.errors import ConfigError

__all__ = ["make_engine", "make_session_factory", "safe_url"]

POOL_SIZE = 20  # PostgreSQL connections kept open per process
POOL_OVERFLOW = 10  # more, opened for a burst and closed after it


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created, foreign keys are enforced."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("records.database_url is not a valid SQLAlchemy URL") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"records.database_url: unsupported database {backend!r} (use sqlite or postgresql)")
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database))
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # the service runs each request in a thread pool of 40: keep enough connections open that a burst of
    # lanes does not open (fork + authenticate) a new PostgreSQL connection per request
    return create_engine(parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (it holds personal data); SQLite's journal files
    take the same permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on; wait up to 30 s for a lock; write-ahead log with a sync at every commit.

    WAL: readers never block the writer nor the writer them, and a commit costs one fsync of the log instead
    of the rollback journal's several, while
    ``synchronous=FULL`` keeps every acknowledged commit through a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)

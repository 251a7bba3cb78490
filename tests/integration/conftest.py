"""PostgreSQL for the records and API tests: a test taking ``database_url`` (or ``module_database_url``) runs
once on SQLite and once on PostgreSQL.

``LANEFACE_TEST_POSTGRES_URL`` (``postgresql+psycopg://user:password@host:port/db``, set by ``.ci/run``) names
a database where the user may create schemas; each test gets its own schema, dropped afterwards. When it
is unset the PostgreSQL cases are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "LANEFACE_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or the PostgreSQL URL (read once, before any test clears LANEFACE_* variables)."""
    if request.param == "sqlite":
        return "sqlite"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set but {POSTGRES_ENV} is not: the PostgreSQL tests must run in CI")
        pytest.skip(f"{POSTGRES_ENV} is not set (PostgreSQL tests run in CI)")
    return url


@contextmanager
def _fresh_database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'records.db'}"
        return
    base = backend
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    with _fresh_database(db_backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _fresh_database(db_backend, tmp_path_factory.mktemp("records")) as url:
        yield url

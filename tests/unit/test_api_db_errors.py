"""Database failures answer 503 (retry later) when the database is unreachable or the connection was lost, 500 for
anything else; neither echoes the driver's message."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from laneface.api.errors import install_error_handlers

SECRET = "connection to server at 10.0.0.5 failed: password authentication failed for user laneface"


class DriverError(Exception):
    pass


def _client(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, DriverError(SECRET)),
        InterfaceError("SELECT 1", {}, DriverError(SECRET)),
        DBAPIError("SELECT 1", {}, DriverError(SECRET), connection_invalidated=True),
        PoolTimeoutError(SECRET),
    ],
    ids=["operational", "interface", "invalidated", "pool-timeout"],
)
def test_unavailable_database_is_503(exc: Exception) -> None:
    response = _client(exc).get("/boom")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "database_unavailable"
    assert body["reference"]
    assert "password" not in response.text and "10.0.0.5" not in response.text


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT", {}, DriverError(SECRET)),
        DBAPIError("SELECT 1", {}, DriverError(SECRET), connection_invalidated=False),
    ],
    ids=["integrity", "dbapi"],
)
def test_other_database_errors_are_500_without_details(exc: Exception) -> None:
    response = _client(exc).get("/boom")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "password" not in response.text and "10.0.0.5" not in response.text

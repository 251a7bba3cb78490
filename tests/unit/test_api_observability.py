"""The service's bad input, refused accesses, documentation pages and metrics (SQLite in a temporary
directory; an API key per role)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from laneface.api.app import create_app
from laneface.config import PrivacySettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}


def _settings(tmp: Path, **service: object) -> Settings:
    return Settings(
        data_dir=tmp,
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings.model_validate({**{f"{r}_keys": [k] for r, k in KEYS.items()}, **service}),
    )


def _as(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), run_scheduler=False)) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/stats", "by=bogus"),  # the parameter is group_by: a misspelt one used to answer unfiltered data
        ("/v1/stats", "group_by=bogus"),
        ("/v1/crossings", "lanes=L1"),
        ("/v1/crossings", "direction=sideways"),
        ("/v1/review-queue", "decision=match"),
        ("/v1/stats/capture-by-row", "row=1"),
    ],
)
def test_unknown_query_names_and_values_are_422(client: TestClient, path: str, query: str) -> None:
    response = client.get(f"{path}?{query}", headers=_as("officer"))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert query.split("=")[0] in response.json()["message"]


def test_declared_query_parameters_still_work(client: TestClient) -> None:
    response = client.get("/v1/stats?group_by=lane&group_by=day", headers=_as("officer"))
    assert response.status_code == 200, response.text
    assert response.json()["group_by"] == ["lane", "day"]
    assert client.get("/v1/crossings?lane=L1&direction=inbound&limit=5", headers=_as("officer")).status_code == 200

"""The service's bad input, refused accesses, documentation pages and metrics (SQLite in a temporary
directory; an API key per role)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from laneface.api.app import create_app
from laneface.config import PrivacySettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin", "metrics")}


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


def _refusals(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/audit-events?action=access.denied&limit=1000", headers=_as("auditor"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_refused_accesses_are_audited(client: TestClient) -> None:
    assert client.get("/v1/crossings").status_code == 401
    assert client.get("/v1/crossings", headers={"X-API-Key": "not-a-key"}).status_code == 401
    assert client.get("/v1/crossings/7", headers={"Authorization": "Bearer a.b.c"}).status_code == 401
    assert client.get("/v1/audit-events", headers=_as("lane")).status_code == 403
    events = _refusals(client)
    anonymous = [e for e in events if e["actor"] == "anonymous"]
    assert {e["object_id"] for e in anonymous} == {"/v1/crossings", "/v1/crossings/7"}
    assert all(e["outcome"] == "denied" and e["details"]["status"] == 401 for e in anonymous)
    assert any(e["details"]["reason"] == "invalid API key" for e in anonymous)
    lane = [e for e in events if e["details"]["status"] == 403]
    assert len(lane) == 1
    assert lane[0]["actor"].startswith("lane-key-") and lane[0]["role"] == "lane"
    assert lane[0]["object_id"] == "/v1/audit-events" and lane[0]["details"]["method"] == "GET"


def test_a_flood_of_identical_refusals_writes_one_event_per_window(client: TestClient) -> None:
    for _ in range(50):
        assert client.get("/v1/stats").status_code == 401
    events = [e for e in _refusals(client) if e["object_id"] == "/v1/stats"]
    assert len(events) == 1
    auditor = client.app.state.refusals  # type: ignore[attr-defined]
    auditor.window_s = 0.0  # the window has run out: the next event counts the folded refusals
    assert client.get("/v1/stats").status_code == 401
    events = [e for e in _refusals(client) if e["object_id"] == "/v1/stats"]
    assert len(events) == 2 and events[1]["details"]["repeated"] == 49


def test_an_audit_write_failing_leaves_the_refusal_a_401(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    records = client.app.state.records  # type: ignore[attr-defined]

    def down() -> None:
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(records, "sessions", down)
    response = client.get("/v1/crossings")
    assert response.status_code == 401, response.text
    metrics = client.get("/metrics", headers=_as("metrics")).text
    assert 'laneface_database_errors_total{kind="audit"} 1.0' in metrics


def test_docs_are_off_by_default(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_docs_when_on_load_nothing_from_outside(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path, docs=True), run_scheduler=False)) as c:
        response = c.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), "a URL outside the service"
    assert "<script" not in page.lower()
    assert "/v1/stats" in page and "&quot;citizenship&quot;" in page  # the operations and their allowed values


def _passage(pid: str, **over: Any) -> dict[str, Any]:
    occupant = {
        "occupant_id": "o1",
        "row": 1,
        "quality": 75.0,
        "quality_passed": True,
        "match": {"doc_id": None, "score": 0.2, "decision": "no_match"},
        "model_version": "m@1",
    }
    missed = occupant | {"occupant_id": "o2", "row": 2, "match": {"decision": "not_captured"}}
    body = {
        "passage_id": pid,
        "lane": "L1",
        "direction": "inbound",
        "started_at": "2026-05-01T12:00:00Z",
        "occupant_count": 2,
        "complete_capture": False,
        "occupants": [occupant, missed],
    }
    return body | over


def test_metrics_after_a_passage_post(client: TestClient) -> None:
    headers = _as("lane") | {"X-Laneface-Outbox-Backlog": "7"}
    assert client.post("/v1/passages", json=_passage("p1"), headers=headers).status_code == 201
    assert client.post("/v1/passages", json=_passage("p1"), headers=_as("lane")).status_code == 200  # replay
    response = client.get("/metrics", headers={"Authorization": f"Bearer {KEYS['metrics']}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'laneface_passages_total{direction="inbound",lane="L1"} 1.0',
        'laneface_occupants_total{decision="no_match"} 1.0',
        'laneface_occupants_total{decision="not_captured"} 1.0',
        'laneface_row_occupants_total{row="2"} 1.0',
        'laneface_row_captured_total{row="1"} 1.0',
        'laneface_capture_rate{row="1"} 1.0',
        'laneface_capture_rate{row="2"} 0.0',
        'laneface_passage_post_seconds_count{status="201"} 1.0',
        'laneface_passage_post_seconds_count{status="200"} 1.0',
        'laneface_lane_outbox_backlog{lane="L1"} 7.0',
    ):
        assert line in text, line
    assert "# TYPE laneface_database_errors_total counter" in text


def test_metrics_are_for_the_metrics_and_admin_roles(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_as("officer")).status_code == 403
    assert client.get("/metrics", headers=_as("admin")).status_code == 200
    assert client.get("/v1/crossings", headers=_as("metrics")).status_code == 403
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_bad_backlog_header_is_refused(client: TestClient) -> None:
    headers = _as("lane") | {"X-Laneface-Outbox-Backlog": "-1"}
    response = client.post("/v1/passages", json=_passage("p2"), headers=headers)
    assert response.status_code == 422
    assert "x-laneface-outbox-backlog" in response.json()["message"].lower()

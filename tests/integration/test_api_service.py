"""The HTTP service on SQLite and PostgreSQL: idempotent posts, multipart, size limits, error mapping that
never echoes input or internals, opt-out, the purge scheduler with a controllable clock, `laneface serve`."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from galleryfakes import InMemoryGallery
from PIL import Image
from typer.testing import CliRunner

from laneface.api.app import create_app
from laneface.api.gallery import GalleryInfo
from laneface.cli.serve import serve_command
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings, load_settings
from laneface.errors import InsecureConfigError
from laneface.records.clock import ManualClock
from laneface.records.crypto import generate_key

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
KEYS = {r: secrets.token_urlsafe(32) for r in ("lane", "officer", "auditor", "admin")}
LANE, OFFICER, ADMIN = ({"X-API-Key": KEYS[r]} for r in ("lane", "officer", "admin"))


def _jpeg(shade: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (shade, 100, 100)).save(buf, "JPEG")
    return buf.getvalue()


def _passage(pid: str = "p1", doc: str = "D1", image: bytes | None = None, **over: Any) -> dict[str, Any]:
    occ: dict[str, Any] = {
        "occupant_id": "o1",
        "row": 1,
        "quality": 75.0,
        "quality_passed": True,
        "match": {"doc_id": doc, "score": 0.77, "decision": "match"},
        "model_version": "m@1",
    }
    if image is not None:
        occ["best_shot_jpeg_b64"] = base64.b64encode(image).decode()
    body = {
        "passage_id": pid,
        "lane": "L1",
        "direction": "inbound",
        "started_at": T0.isoformat(),
        "occupant_count": 1,
        "complete_capture": True,
        "occupants": [occ],
    }
    return body | over


def _settings(tmp: Path, database_url: str, **privacy: Any) -> Settings:
    return Settings(
        data_dir=tmp,
        records=RecordsSettings(database_url=database_url),
        privacy=PrivacySettings.model_validate({"encryption_key": generate_key(), "home_country": "UTO", **privacy}),
        service=ServiceSettings(
            lane_keys=[KEYS["lane"]],
            officer_keys=[KEYS["officer"]],
            auditor_keys=[KEYS["auditor"]],
            admin_keys=[KEYS["admin"]],
            max_body_bytes=256 * 1024,
        ),
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def client(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(
        _settings(tmp_path, database_url),
        gallery=InMemoryGallery(),
        clock=clock,
        run_scheduler=False,
    )
    with TestClient(app) as c:
        yield c


def _image_of(client: TestClient, crossing_id: int) -> tuple[int, bytes]:
    crossing = client.get(f"/v1/crossings/{crossing_id}", headers=OFFICER).json()
    r = client.get(f"/v1/occupants/{crossing['occupants'][0]['id']}/face-image", headers=OFFICER)
    return r.status_code, r.content


def _enrol(client: TestClient, doc: str, citizenship: str, **extra: str) -> None:
    r = client.post(
        "/v1/gallery/documents",
        headers=ADMIN,
        files={"photo": ("p.jpg", _jpeg(), "image/jpeg")},
        data={"doc_id": doc, "doc_type": "passport", "citizenship": citizenship, **extra},
    )
    assert r.status_code == 201, r.text


def test_retried_post_is_idempotent(client: TestClient) -> None:
    body = _passage(image=_jpeg())
    first = client.post("/v1/passages", json=body, headers=LANE)
    retry = client.post("/v1/passages", json=body, headers=LANE)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    conflict = client.post("/v1/passages", json=_passage(image=_jpeg(50)), headers=LANE)
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    assert len(client.get("/v1/crossings", headers=OFFICER).json()["items"]) == 1


def test_multipart_post_with_image_bytes(client: TestClient) -> None:
    image = _jpeg(7)
    r = client.post(
        "/v1/passages/multipart",
        headers=LANE,
        data={"passage": json.dumps(_passage())},
        files=[("images", ("o1", image, "image/jpeg"))],
    )
    assert r.status_code == 201, r.text
    assert _image_of(client, r.json()["crossing_id"]) == (200, image)
    bad = client.post(
        "/v1/passages/multipart",
        headers=LANE,
        data={"passage": json.dumps(_passage("p2"))},
        files=[("images", ("someone-else", image, "image/jpeg"))],
    )
    assert bad.status_code == 422
    bad = client.post("/v1/passages/multipart", headers=LANE, data={"passage": "{not json"})
    assert bad.status_code == 422


def test_not_a_jpeg_is_refused(client: TestClient) -> None:
    r = client.post("/v1/passages", json=_passage(image=b"GIF89a" + bytes(100)), headers=LANE)
    assert r.status_code == 422 and r.json()["error"] == "invalid_input"


def test_oversized_bodies_get_413(client: TestClient) -> None:
    big = _passage(image=b"\xff\xd8\xff" + os.urandom(300 * 1024))
    r = client.post("/v1/passages", json=big, headers=LANE)
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield json.dumps(big).encode()

    r = client.post("/v1/passages", content=chunks(), headers=LANE | {"content-type": "application/json"})
    assert r.status_code == 413
    r = client.post(
        "/v1/passages/multipart",
        headers=LANE,
        data={"passage": json.dumps(_passage())},
        files=[("images", ("o1", b"\xff\xd8\xff" + os.urandom(300 * 1024), "image/jpeg"))],
    )
    assert r.status_code == 413


def test_validation_errors_do_not_echo_input(client: TestClient) -> None:
    marker = "SECRET-MARKER-1234"
    r = client.post("/v1/passages", json=_passage(lane=f"bad lane {marker}"), headers=LANE)
    assert r.status_code == 422
    assert marker not in r.text and r.json()["error"] == "validation_error"
    r = client.get("/v1/crossings/99999999999999", headers=OFFICER)
    assert r.status_code == 422


class _BrokenGallery(InMemoryGallery):
    def info(self) -> GalleryInfo:
        raise RuntimeError("connection to milvus at 10.0.0.7:19530 failed, password=hunter2")


def test_internal_errors_do_not_leak(database_url: str, tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path, database_url),
        gallery=_BrokenGallery(),
        run_scheduler=False,
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/gallery", headers=ADMIN)
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error" and r.json()["reference"]
    assert "hunter2" not in r.text and "milvus" not in r.text and "Traceback" not in r.text


def test_without_a_gallery_admin_endpoints_answer_503(database_url: str, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, database_url), run_scheduler=False)
    with TestClient(app) as c:
        assert c.get("/v1/gallery", headers=ADMIN).status_code == 503
        r = c.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": ("p.jpg", _jpeg(), "image/jpeg")},
            data={"doc_id": "D1", "doc_type": "passport", "citizenship": "FRA"},
        )
        assert r.status_code == 503
        assert c.get("/v1/documents/D1/history", headers=OFFICER).status_code == 404  # nothing recorded


def test_unusable_enrolment_photo_changes_nothing(client: TestClient) -> None:
    r = client.post(
        "/v1/gallery/documents",
        headers=ADMIN,
        files={"photo": ("p.jpg", b"", "image/jpeg")},
        data={"doc_id": "D9", "doc_type": "passport", "citizenship": "FRA"},
    )
    assert r.status_code == 422
    assert client.get("/v1/documents/D9/history", headers=OFFICER).status_code == 404


def test_opted_out_traveller_images_are_dropped_on_post(client: TestClient) -> None:
    _enrol(client, "D1", "FRA", opt_out="true")
    r = client.post("/v1/passages", json=_passage(image=_jpeg()), headers=LANE)
    assert r.status_code == 201 and r.json()["images_withheld"] == 1
    status, _ = _image_of(client, r.json()["crossing_id"])
    assert status == 404
    occupant = client.get("/v1/crossings", headers=OFFICER).json()["items"][0]["occupants"][0]
    assert occupant["withheld_reason"] == "opted_out" and not occupant["has_face_image"]


def test_scheduled_purge_with_a_fake_clock(database_url: str, tmp_path: Path, clock: ManualClock) -> None:
    settings = _settings(tmp_path, database_url, purge_interval_s=0.05)
    app = create_app(settings, gallery=InMemoryGallery(), clock=clock)
    with TestClient(app) as c:
        _enrol(c, "C1", "UTO")
        crossing_id = c.post("/v1/passages", json=_passage(doc="C1", image=_jpeg()), headers=LANE).json()["crossing_id"]
        assert _image_of(c, crossing_id)[0] == 200
        clock.advance(hours=11)  # within 12 h minus one interval: kept by every scheduled run
        time.sleep(0.3)
        assert _image_of(c, crossing_id)[0] == 200
        clock.advance(hours=1)
        deadline = time.monotonic() + 10
        while _image_of(c, crossing_id)[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _image_of(c, crossing_id)[0] == 404
        events = c.get(
            "/v1/audit-events", headers={"X-API-Key": KEYS["auditor"]}, params={"action": "retention.purge"}
        ).json()["items"]
        assert events and events[-1]["actor"] == "system" and events[-1]["details"]["expired"]


def _cli(calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, data_dir: Path = typer.Option(...)) -> None:  # noqa: B008
        ctx.obj = load_settings(data_dir=data_dir)

    app.command("serve")(serve_command)
    app.command("noop")(lambda: None)
    return app


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("LANEFACE_") and name != "LANEFACE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LANEFACE_RECORDS__DATABASE_URL", database_url)
    return monkeypatch


def test_serve_refuses_without_secrets(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    result = CliRunner().invoke(_cli(calls, env), ["--data-dir", str(tmp_path), "serve"])
    assert isinstance(result.exception, InsecureConfigError) and not calls
    env.setenv("LANEFACE_PRIVACY__ENCRYPTION_KEY", generate_key())
    result = CliRunner().invoke(_cli(calls, env), ["--data-dir", str(tmp_path), "serve"])
    assert isinstance(result.exception, InsecureConfigError) and "credentials" in str(result.exception)
    env.setenv("LANEFACE_SERVICE__ADMIN_KEYS", '["changethis"]')
    result = CliRunner().invoke(_cli(calls, env), ["--data-dir", str(tmp_path), "serve"])
    assert isinstance(result.exception, InsecureConfigError) and not calls


def test_serve_with_configured_secrets(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("LANEFACE_PRIVACY__ENCRYPTION_KEY", generate_key())
    env.setenv("LANEFACE_SERVICE__OFFICER_KEYS", json.dumps([KEYS["officer"]]))
    calls: list[dict[str, Any]] = []
    result = CliRunner().invoke(_cli(calls, env), ["--data-dir", str(tmp_path), "serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    with TestClient(call["app"]) as c:
        assert c.get("/v1/crossings", headers=OFFICER).status_code == 200


def test_serve_insecure_dev_generates_keys_on_loopback_only(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []
    data = tmp_path / "data"
    result = CliRunner().invoke(_cli(calls, env), ["--data-dir", str(data), "serve", "--insecure-dev"])
    assert result.exit_code == 0, result.output
    for name in ("dev-api-keys.json", "dev-encryption.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    keys = json.loads((data / "dev-api-keys.json").read_text())
    with TestClient(calls[0]["app"]) as c:
        assert c.get("/v1/crossings", headers={"X-API-Key": keys["officer"]}).status_code == 200
    result = CliRunner().invoke(
        _cli(calls, env), ["--data-dir", str(data), "serve", "--insecure-dev", "--host", "0.0.0.0"]
    )
    assert result.exit_code != 0 and "loopback" in str(result.exception)
    assert len(calls) == 1

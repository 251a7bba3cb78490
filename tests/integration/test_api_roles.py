"""Role matrix: every endpoint x every caller (no credentials, a wrong key, each role by API key and by
OAuth2 bearer token), on SQLite and PostgreSQL. Also proves that no response carries biometric data
(face image or template bytes, raw or base64) except the officer's audited face-image and document-photo reads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from galleryfakes import InMemoryGallery
from PIL import Image

from laneface.api.app import create_app
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

ROLES = ("lane", "officer", "auditor", "admin")
KEYS = {role: secrets.token_urlsafe(32) for role in ROLES}
TOKEN_SECRET = secrets.token_urlsafe(48)
TEMPLATE = bytes(range(256)) * 2


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (12, 34, 56)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


IMAGE = _jpeg()
SECRETS_OF_BIOMETRICS = [
    IMAGE[20:80],
    base64.b64encode(IMAGE)[40:120],
    TEMPLATE[:64],
    base64.b64encode(TEMPLATE)[:80],
]


def _token(role: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(
        json.dumps({"sub": f"{role}-user", "aud": "laneface", "exp": time.time() + 3600, "roles": [role]}).encode()
    )
    sig = hmac.new(TOKEN_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


CALLERS: dict[str, tuple[str | None, dict[str, str]]] = {
    "none": (None, {}),
    "wrong-key": (None, {"X-API-Key": secrets.token_urlsafe(32)}),
    "bad-token": (None, {"Authorization": "Bearer not.a.token"}),
    **{f"{r}-key": (r, {"X-API-Key": KEYS[r]}) for r in ROLES},
    **{f"{r}-token": (r, {"Authorization": f"Bearer {_token(r)}"}) for r in ROLES},
}


def _passage(pid: str, *, with_images: bool = True) -> dict[str, Any]:
    occupant: dict[str, Any] = {
        "occupant_id": "o1",
        "row": 0,
        "quality": 80.0,
        "quality_passed": True,
        "match": {"doc_id": "D1", "score": 0.9, "decision": "match"},
        "model_version": "m@1",
    }
    if with_images:
        occupant["best_shot_jpeg_b64"] = base64.b64encode(IMAGE).decode()
        occupant["template_b64"] = base64.b64encode(TEMPLATE).decode()
    return {
        "passage_id": pid,
        "lane": "L1",
        "direction": "inbound",
        "started_at": "2026-05-01T08:00:00Z",
        "occupant_count": 1,
        "complete_capture": True,
        "occupants": [occupant],
    }


@dataclass(frozen=True)
class Ctx:
    crossing_id: int
    occupant_pk: int


Request = Callable[[Ctx], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    allowed: frozenset[str]
    request: Request
    biometric: bool = False


def _e(method: str, path: str, allowed: str, request: Request | None = None, biometric: bool = False) -> Endpoint:
    return Endpoint(method, path, frozenset(allowed.split()), request or (lambda c: {}), biometric)


def _fill(path: str, c: Ctx) -> str:
    return path.format(
        crossing_id=c.crossing_id, occupant_pk=c.occupant_pk, doc_id="D1", traveller_ref="D1", lane="L1", occupant=1
    )


ENDPOINTS = [
    _e("POST", "/v1/passages", "lane", lambda c: {"json": _passage("matrix-json")}),
    _e(
        "POST",
        "/v1/passages/multipart",
        "lane",
        lambda c: {
            "data": {"passage": json.dumps(_passage("matrix-multipart", with_images=False))},
            "files": [
                ("images", ("o1", IMAGE, "image/jpeg")),
                ("templates", ("o1", TEMPLATE, "application/octet-stream")),
            ],
        },
    ),
    _e("GET", "/v1/crossings", "officer"),
    _e("GET", "/v1/crossings/{crossing_id}", "officer"),
    _e("GET", "/v1/occupants/{occupant_pk}/face-image", "officer", biometric=True),
    _e("POST", "/v1/occupants/{occupant_pk}/reviews", "officer", lambda c: {"json": {"decision": "referred"}}),
    _e("GET", "/v1/documents/{doc_id}/history", "officer"),
    _e("GET", "/v1/documents/{doc_id}/photo", "officer", biometric=True),
    _e("GET", "/v1/travellers/{traveller_ref}/stays", "officer"),
    _e("GET", "/v1/stats", "officer auditor admin", lambda c: {"params": {"group_by": ["lane", "citizenship"]}}),
    _e("GET", "/v1/review-queue", "officer"),
    _e("GET", "/v1/stats/capture-by-row", "officer auditor admin"),
    _e("GET", "/v1/stats/reviews", "officer auditor admin"),
    _e("GET", "/v1/audit-events", "auditor"),
    _e("GET", "/v1/gallery", "admin"),
    _e(
        "POST",
        "/v1/gallery/documents",
        "admin",
        lambda c: {
            "data": {"doc_id": "D2", "doc_type": "passport", "citizenship": "DEU"},
            "files": {"photo": ("photo.jpg", IMAGE, "image/jpeg")},
        },
    ),
    _e("DELETE", "/v1/gallery/documents/{doc_id}", "admin", lambda c: {"url": "/v1/gallery/documents/D3"}),
    _e("PUT", "/v1/travellers/{traveller_ref}/opt-out", "admin", lambda c: {"json": {"opt_out": False}}),
    _e("GET", "/v1/retention", "admin auditor"),
    _e(
        "PUT",
        "/v1/retention",
        "admin",
        lambda c: {"json": {"rules": [{"kind": "face_image", "citizenship": "citizen", "max_age_hours": 12}]}},
    ),
    _e("DELETE", "/v1/retention", "admin"),
    _e("POST", "/v1/retention/purge", "admin"),
    _e("POST", "/v1/lanes/{lane}/events", "lane", lambda c: {"json": {"events": []}}),
    _e("GET", "/v1/booth", "officer"),
    _e("GET", "/v1/booth/{lane}", "officer"),
    _e("GET", "/v1/booth/{lane}/stream", "officer", lambda c: {"params": {"max_s": 1}}),
    _e("GET", "/v1/booth/{lane}/thumbnails/{occupant}", "officer", biometric=True),
    _e("POST", "/v1/booth/{lane}/prompts", "officer", lambda c: {"json": {"message": "look_at_camera"}}),
]
PUBLIC = {("GET", "/healthz")}  # besides /openapi.json and the documentation pages


def _settings(tmp: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp,
        records=RecordsSettings(database_url=database_url),
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings(
            lane_keys=[KEYS["lane"]],
            officer_keys=[KEYS["officer"]],
            auditor_keys=[KEYS["auditor"]],
            admin_keys=["sha256:" + hashlib.sha256(KEYS["admin"].encode()).hexdigest()],
            oauth2_hs256_secret=TOKEN_SECRET,
        ),
    )


@pytest.fixture(scope="module")
def service(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Ctx]]:
    tmp = tmp_path_factory.mktemp("api")
    app = create_app(
        _settings(tmp, module_database_url),
        gallery=InMemoryGallery(),
        run_scheduler=False,
    )
    with TestClient(app) as client:
        admin, lane, officer = ({"X-API-Key": KEYS[r]} for r in ("admin", "lane", "officer"))
        for doc in ("D1", "D3"):
            r = client.post(
                "/v1/gallery/documents",
                headers=admin,
                files={"photo": ("p.jpg", IMAGE, "image/jpeg")},
                data={"doc_id": doc, "doc_type": "passport", "citizenship": "FRA"},
            )
            assert r.status_code == 201, r.text
        r = client.post("/v1/passages", headers=lane, json=_passage("seed"))
        assert r.status_code == 201, r.text
        captured = {"event": "occupant_captured", "passage_id": "seed", "t_s": 1.0, "occupant": 1, "row": 1}
        captured["thumbnail_jpeg_b64"] = base64.b64encode(IMAGE).decode("ascii")
        booth = client.post("/v1/lanes/L1/events", headers=lane, json={"events": [captured]})
        assert booth.status_code == 200, booth.text
        crossing = client.get(f"/v1/crossings/{r.json()['crossing_id']}", headers=officer).json()
        yield client, Ctx(crossing_id=crossing["id"], occupant_pk=crossing["occupants"][0]["id"])


def test_matrix_covers_every_route(service: tuple[TestClient, Ctx]) -> None:
    client, _ = service
    paths = client.get("/openapi.json").json()["paths"]
    operations = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert operations == {(e.method, e.path) for e in ENDPOINTS} | PUBLIC


CASES = [(e, name) for e in ENDPOINTS for name in CALLERS]


@pytest.mark.parametrize(("endpoint", "caller"), CASES, ids=[f"{e.method} {e.path} as {c}" for e, c in CASES])
def test_role_matrix(service: tuple[TestClient, Ctx], endpoint: Endpoint, caller: str) -> None:
    client, ctx = service
    role, headers = CALLERS[caller]
    kwargs = {"url": _fill(endpoint.path, ctx), **endpoint.request(ctx)}
    response = client.request(endpoint.method, headers=headers, **kwargs)
    if role is None:
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
    elif role not in endpoint.allowed:
        assert response.status_code == 403, response.text
    else:
        assert response.status_code < 400, response.text
    may_see_biometrics = endpoint.biometric and role == "officer"
    if may_see_biometrics:
        assert response.content == IMAGE
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"] == "no-store"
    else:
        for secret in SECRETS_OF_BIOMETRICS:
            assert secret not in response.content, "biometric data in a response"
        assert not response.headers.get("content-type", "").startswith("image/")


def test_public_endpoints_need_no_credentials(service: tuple[TestClient, Ctx]) -> None:
    client, _ = service
    assert client.get("/healthz").json() == {"status": "ok"}
    schema = client.get("/openapi.json").json()
    assert {"ApiKey", "OAuth2Bearer"} <= set(schema["components"]["securitySchemes"])


def test_image_reads_and_refusals_are_audited(service: tuple[TestClient, Ctx]) -> None:
    client, ctx = service
    path = f"/v1/occupants/{ctx.occupant_pk}/face-image"
    assert client.get(path, headers={"X-API-Key": KEYS["officer"]}).status_code == 200
    assert client.get(path, headers={"Authorization": f"Bearer {_token('officer')}"}).status_code == 200
    assert client.get(path, headers={"X-API-Key": KEYS["admin"]}).status_code == 403
    events = client.get(
        "/v1/audit-events",
        headers={"X-API-Key": KEYS["auditor"]},
        params={"action": "biometric.read", "limit": 1000},
    ).json()["items"]
    ok = [e for e in events if e["outcome"] == "ok" and e["object_id"] == str(ctx.occupant_pk)]
    denied = [e for e in events if e["outcome"] == "denied"]
    assert ok and all(e["role"] == "officer" for e in ok)
    assert any(e["role"] == "admin" and e["object_id"] == path for e in denied)
    assert any(e["actor"] == "oauth2:officer-user" for e in ok)

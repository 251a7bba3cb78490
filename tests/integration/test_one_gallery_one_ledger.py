"""One gallery, one ledger: a document enrolled from the CLI or through the API exists for the matcher and for
the records (document, traveller, citizenship, encrypted photo); the ledger, the officer's confirmation and the
document photo (officers only, audited) work for either path; failures to enrol are audited."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from fastapi.testclient import TestClient
from galleryfakes import InMemoryGallery
from PIL import Image
from tests.unit.test_gallery_cli import FakeDetector
from tests.unit.test_gallery_enrol import MODEL, FakeEmbedder, FakeQuality
from typer.testing import CliRunner

import laneface.detection.factory as detection_factory
import laneface.embedding.factory as embedding_factory
from laneface.api.app import create_app
from laneface.api.gallery_service import ServiceGallery
from laneface.cli.gallery import gallery_app
from laneface.cli.records import ledger_app
from laneface.config import Settings, load_settings
from laneface.gallery.enrol import Enroller, EnrolOptions
from laneface.gallery.manifest import read_manifest
from laneface.gallery.store import Gallery, GalleryConfig
from laneface.records.crypto import generate_key

KEYS = {r: secrets.token_urlsafe(32) for r in ("lane", "officer", "auditor", "admin")}
LANE, OFFICER, AUDITOR, ADMIN = ({"X-API-Key": KEYS[r]} for r in ("lane", "officer", "auditor", "admin"))
COLOURS = {"P1": (200, 120, 90), "P2": (30, 90, 220), "P4": (0, 0, 0)}  # P4: no face (an FTE)


@pytest.fixture(autouse=True)
def _fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(detection_factory, "build_detector", lambda name, store, settings=None: FakeDetector())
    monkeypatch.setattr(embedding_factory, "build_embedder", lambda name, store, settings=None: FakeEmbedder())


def _settings(tmp_path: Path, *, key: bool = True) -> Settings:
    over: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "models__models_dir": tmp_path,
        "privacy__home_country": "UTO",
        "service__lane_keys": [KEYS["lane"]],
        "service__officer_keys": [KEYS["officer"]],
        "service__auditor_keys": [KEYS["auditor"]],
        "service__admin_keys": [KEYS["admin"]],
    }
    if key:
        over["privacy__encryption_key"] = generate_key()
    return load_settings(**over)


def _cli(settings: Settings) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(gallery_app, name="gallery")
    app.add_typer(ledger_app, name="ledger")
    return app


def _run(app: typer.Typer, *args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def _manifest(d: Path) -> Path:
    (d / "img").mkdir(parents=True)
    lines = ["doc_id,image,doc_type,citizenship"]
    for doc, colour in COLOURS.items():
        Image.fromarray(np.full((200, 200, 3), colour, np.uint8)).save(d / "img" / f"{doc}.png")
        lines.append(f"{doc},img/{doc}.png,passport,{'UTO' if doc == 'P1' else 'FRA'}")
    (d / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d / "manifest.csv"


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 100, 100)).save(buf, "JPEG")
    return buf.getvalue()


def _passage(doc: str, decision: str, score: float) -> dict[str, Any]:
    return {
        "passage_id": f"p-{doc}-{decision}",
        "lane": "L1",
        "direction": "inbound",
        "started_at": "2026-05-01T08:00:00+00:00",
        "occupant_count": 1,
        "complete_capture": True,
        "occupants": [
            {
                "occupant_id": "o1",
                "row": 0,
                "quality": 70.0,
                "quality_passed": True,
                "match": {"doc_id": doc, "score": score, "decision": decision, "threshold": 0.41},
                "model_version": MODEL,
                "best_shot_jpeg_b64": base64.b64encode(_jpeg()).decode(),
            }
        ],
    }


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Settings, TestClient]]:
    settings = _settings(tmp_path)
    with TestClient(create_app(settings, gallery=InMemoryGallery(), run_scheduler=False)) as client:
        yield settings, client


def _audit(client: TestClient, action: str) -> list[dict[str, Any]]:
    r = client.get("/v1/audit-events", params={"action": action}, headers=AUDITOR)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_cli_enrolled_document_has_a_history_and_the_lanes_candidate_can_be_confirmed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    cli, manifest = _cli(settings), _manifest(tmp_path)
    out = _run(cli, "gallery", "enroll", str(manifest), "-p", "none", "--no-progress", "--json").stdout
    assert json.loads(out)["records"] == {"recorded": 2, "photos_stored": 2, "failures_audited": 1, "problems": []}
    history = json.loads(_run(cli, "ledger", "history", "P1").stdout)
    assert history["document"]["doc_id"] == "P1" and history["document"]["citizenship"] == "UTO"
    assert history["document"]["traveller_ref"] == "P1" and history["document"]["has_photo"] is True

    with TestClient(create_app(settings, gallery=InMemoryGallery(), run_scheduler=False)) as client:
        r = client.post("/v1/passages", json=_passage("P1", "no_match", 0.33), headers=LANE)
        assert r.status_code == 201, r.text
        occupant = client.get(f"/v1/crossings/{r.json()['crossing_id']}", headers=OFFICER).json()["occupants"][0]
        assert (occupant["score"], occupant["threshold"]) == (0.33, 0.41)
        queue = client.get("/v1/review-queue", headers=OFFICER).json()["items"]
        assert queue[0]["threshold"] == 0.41
        review = {"decision": "confirmed", "doc_id": "P1"}
        r = client.post(f"/v1/occupants/{occupant['id']}/reviews", json=review, headers=OFFICER)
        assert r.status_code == 201, r.text  # was 409 "document is not known to the records"
        entries = client.get("/v1/documents/P1/history", headers=OFFICER).json()["entries"]
        assert [(e["movement"], e["source"]) for e in entries] == [("arrival", "officer")]
        # the lane's own match of a CLI-enrolled document is confirmed automatically
        assert client.post("/v1/passages", json=_passage("P2", "match", 0.8), headers=LANE).status_code == 201
        assert len(client.get("/v1/documents/P2/history", headers=OFFICER).json()["entries"]) == 1

        photo = client.get("/v1/documents/P1/photo", headers=OFFICER)
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/png"
        assert photo.content == (tmp_path / "img" / "P1.png").read_bytes()
        failed = [e for e in _audit(client, "gallery.enroll") if e["outcome"] == "failed"]
        assert [(e["object_id"], e["details"]["reason"], e["actor"]) for e in failed] == [("P4", "no face", "cli")]

    _run(cli, "gallery", "remove", "P1")
    history = json.loads(_run(cli, "ledger", "history", "P1").stdout)
    assert history["document"]["enrolled"] is False and history["document"]["has_photo"] is False
    assert len(history["entries"]) == 1  # the ledger keeps the movement


def test_without_an_encryption_key_the_cli_records_documents_without_photos(tmp_path: Path) -> None:
    cli = _cli(_settings(tmp_path, key=False))
    result = _run(cli, "gallery", "enroll", str(_manifest(tmp_path)), "-p", "none", "--no-progress")
    assert "document photos are not stored" in result.stderr and "laneface keys generate" in result.stderr
    assert "records: 2 documents recorded (0 photos stored)" in result.stdout
    history = json.loads(_run(cli, "ledger", "history", "P2").stdout)
    assert history["document"]["citizenship"] == "FRA" and history["document"]["has_photo"] is False


def test_a_manifest_row_the_records_cannot_take_is_reported_and_audited(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    manifest = _manifest(tmp_path)
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("P2,img/P2.png,passport,FRA", "P2,img/P2.png,passport,France")
    )
    result = _run(_cli(settings), "gallery", "enroll", str(manifest), "-p", "none", "--no-progress")
    assert "NOT RECORDED P2: document 'P2': citizenship 'FRANCE' is not a 3-letter country code" in result.stdout
    with TestClient(create_app(settings, gallery=InMemoryGallery(), run_scheduler=False)) as client:
        failed = {
            e["object_id"]: e["details"]["reason"] for e in _audit(client, "gallery.enroll") if e["outcome"] == "failed"
        }
    assert failed["P2"].startswith("records: ") and failed["P4"] == "no face"


def test_sync_records_backfills_a_gallery_enrolled_before_the_records_were_written(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    manifest = _manifest(tmp_path)
    with Gallery.open(settings.data_dir, MODEL, config=GalleryConfig(backend="exact")) as gallery:
        Enroller(gallery, FakeDetector(), FakeEmbedder(), None).enrol_rows(read_manifest(manifest))
    cli = _cli(settings)
    assert CliRunner().invoke(cli, ["ledger", "history", "P1"]).exit_code != 0  # the defect: "no document"
    out = _run(cli, "gallery", "sync-records", "--manifest", str(manifest), "--json").stdout
    assert json.loads(out) == {"recorded": 2, "photos_stored": 2, "failures_audited": 0, "problems": []}
    assert json.loads(_run(cli, "ledger", "history", "P2").stdout)["document"]["has_photo"] is True
    again = json.loads(_run(cli, "gallery", "sync-records", "--json").stdout)  # idempotent, photos kept
    assert again["recorded"] == 2
    assert json.loads(_run(cli, "ledger", "history", "P2").stdout)["document"]["has_photo"] is True


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_an_api_enrolled_document_is_in_the_gallery_and_the_records(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    made: list[Enroller] = []

    def make() -> Enroller:
        gallery = Gallery.open(settings.data_dir, MODEL, config=GalleryConfig(backend="exact"))
        made.append(
            Enroller(gallery, FakeDetector(), FakeEmbedder(), FakeQuality(), EnrolOptions(drop_on_failure=False))
        )
        return made[0]

    photo = _png((200, 120, 90))
    with TestClient(create_app(settings, gallery=ServiceGallery(make), run_scheduler=False)) as client:
        r = client.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": ("p.png", photo, "image/png")},
            data={"doc_id": "A1", "doc_type": "passport", "citizenship": "FRA"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["has_photo"] is True and r.json()["quality_flags"] == []
        assert made[0].gallery.document("A1") is not None
        assert client.get("/v1/documents/A1/history", headers=OFFICER).json()["document"]["has_photo"] is True
        assert client.get("/v1/documents/A1/photo", headers=OFFICER).content == photo
        # a photo the gallery refuses (no face): 422, nothing recorded, the failure audited with its reason
        r = client.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": ("p.png", _png((0, 0, 0)), "image/png")},
            data={"doc_id": "A2", "doc_type": "passport", "citizenship": "FRA"},
        )
        assert r.status_code == 422
        assert client.get("/v1/documents/A2/history", headers=OFFICER).status_code == 404
        failed = [e for e in _audit(client, "gallery.enroll") if e["outcome"] == "failed"]
        assert [e["object_id"] for e in failed] == ["A2"]
        assert "no face" in str(failed[0]["details"]["reason"]) and failed[0]["details"]["source"] == "api"


def _enrol(client: TestClient, doc: str, photo: bytes, **extra: str) -> None:
    r = client.post(
        "/v1/gallery/documents",
        headers=ADMIN,
        files={"photo": ("p.jpg", photo, "image/jpeg")},
        data={"doc_id": doc, "doc_type": "passport", "citizenship": "FRA", **extra},
    )
    assert r.status_code == 201, r.text


def test_the_document_photo_is_for_officers_only_and_every_read_is_audited(
    service: tuple[Settings, TestClient],
) -> None:
    _, client = service
    photo = _jpeg()
    _enrol(client, "D1", photo)
    for headers in (LANE, AUDITOR, ADMIN):
        assert client.get("/v1/documents/D1/photo", headers=headers).status_code == 403
    assert client.get("/v1/documents/D1/photo").status_code == 401
    r = client.get("/v1/documents/D1/photo", headers=OFFICER)
    assert r.status_code == 200 and r.content == photo and r.headers["cache-control"] == "no-store"
    assert client.get("/v1/documents/NOPE/photo", headers=OFFICER).status_code == 404
    reads = [e for e in _audit(client, "biometric.read") if e["object_type"] == "document_photo"]
    assert [(e["object_id"], e["outcome"], e["role"]) for e in reads] == [
        ("D1", "ok", "officer"),
        ("NOPE", "not_found", "officer"),
    ]
    assert reads[0]["details"]["purpose"] == "adjudication"


def test_an_upload_refused_for_an_empty_photo_is_audited(service: tuple[Settings, TestClient]) -> None:
    _, client = service
    r = client.post(
        "/v1/gallery/documents",
        headers=ADMIN,
        files={"photo": ("p.jpg", b"", "image/jpeg")},
        data={"doc_id": "D9", "doc_type": "passport", "citizenship": "FRA"},
    )
    assert r.status_code == 422
    events = _audit(client, "gallery.enroll")
    assert [(e["object_id"], e["outcome"], e["details"]["error"]) for e in events] == [
        ("D9", "failed", "EmptyImageError")
    ]


def test_opting_out_deletes_the_document_photo(service: tuple[Settings, TestClient]) -> None:
    _, client = service
    _enrol(client, "D1", _jpeg())
    r = client.put("/v1/travellers/D1/opt-out", json={"opt_out": True}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["biometrics_deleted"] == 1
    assert client.get("/v1/documents/D1/photo", headers=OFFICER).status_code == 404
    assert client.get("/v1/documents/D1/history", headers=OFFICER).json()["document"]["has_photo"] is False
    _enrol(client, "D1", _jpeg())  # an opted-out traveller's new photo is not stored either
    assert client.get("/v1/documents/D1/photo", headers=OFFICER).status_code == 404


def test_an_enrolment_the_records_refuse_leaves_the_gallery_unchanged(tmp_path: Path) -> None:
    """409 (the traveller is recorded with another citizenship): the gallery keeps exactly what it had; it
    was enrolled first, then the records refused."""
    settings = _settings(tmp_path)
    made: list[Enroller] = []

    def make() -> Enroller:
        gallery = Gallery.open(settings.data_dir, MODEL, config=GalleryConfig(backend="exact"))
        made.append(Enroller(gallery, FakeDetector(), FakeEmbedder(), FakeQuality()))
        return made[0]

    def snapshot() -> dict[str, tuple[Any, list[float]]]:
        gallery = made[0].gallery
        return {doc: (gallery.document(doc), [float(x) for x in t.vector]) for doc, t in gallery.iter_templates()}

    with TestClient(create_app(settings, gallery=ServiceGallery(make), run_scheduler=False)) as client:
        r = client.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": ("p.png", _png((200, 120, 90)), "image/png")},
            data={"doc_id": "A1", "doc_type": "passport", "citizenship": "FRA"},
        )
        assert r.status_code == 201, r.text
        before = snapshot()
        assert list(before) == ["A1"]
        for data in (
            {"doc_id": "A1", "doc_type": "passport", "citizenship": "UTO"},  # re-enrolment, other citizenship
            {"doc_id": "A3", "doc_type": "passport", "citizenship": "UTO", "traveller_ref": "A1"},  # new document
        ):
            r = client.post(
                "/v1/gallery/documents",
                headers=ADMIN,
                files={"photo": ("p.png", _png((30, 90, 220)), "image/png")},
                data=data,
            )
            assert r.status_code == 409, r.text
            assert snapshot() == before, data
        assert client.get("/v1/documents/A3/history", headers=OFFICER).status_code == 404

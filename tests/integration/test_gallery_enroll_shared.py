"""`laneface --data-dir DIR gallery enroll MANIFEST.csv` on real images of ../shared (YuNet + MobileFaceNet),
then 1:1 / 1:N with the Matcher on the stored gallery; the default enrolment policy on the simulator's
document photos and on ordinary portrait photos (LFW cropped to about 300x380)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from laneface.cli.gallery import gallery_app
from laneface.config import load_settings

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"
NO_FACE = SHARED / "data" / "samples" / "misc" / "no_face.png"
GROUP = SHARED / "data" / "samples" / "group_6_faces.jpg"

if not (MODELS / "mobilefacenet").is_dir() or not LFW.is_dir():
    pytest.skip(f"../shared not present at {SHARED}", allow_module_level=True)
pytestmark = [pytest.mark.models, pytest.mark.shared]


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    a = typer.Typer()

    @a.callback()
    def root(ctx: typer.Context, data_dir: Annotated[Path, typer.Option("--data-dir")]) -> None:
        ctx.obj = load_settings(data_dir=data_dir, models__models_dir=MODELS)

    a.add_typer(gallery_app, name="gallery")
    return a


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    photos = tmp_path / "batch" / "photos"
    photos.mkdir(parents=True)
    rows = [
        ("DOC-1", LFW / "George_W_Bush" / "George_W_Bush_0001.jpg"),
        ("DOC-2", LFW / "Colin_Powell" / "Colin_Powell_0001.jpg"),
        ("DOC-3", LFW / "George_W_Bush" / "George_W_Bush_0002.jpg"),  # same person as DOC-1
        ("DOC-4", NO_FACE),
    ]
    lines = ["doc_id,image,doc_type,citizenship,issued"]
    for doc, src in rows:
        shutil.copy(src, photos / f"{doc}{src.suffix}")
        lines.append(f"{doc},photos/{doc}{src.suffix},P,USA,2020-01-01")
    lines.append("DOC-5,photos/missing.jpg,P,USA,2020-01-01")
    path = tmp_path / "batch" / "manifest.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _enroll(app: typer.Typer, data: Path, manifest: Path, *extra: str, code: int = 0) -> dict[str, object]:
    args = ["--data-dir", str(data), "gallery", "enroll", str(manifest), "-d", "yunet", "-e", "mobilefacenet"]
    result = CliRunner().invoke(app, [*args, "--json", "--no-progress", *extra])
    assert result.exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_enroll_real_document_photos_then_match(app: typer.Typer, tmp_path: Path, manifest: Path) -> None:
    data = tmp_path / "data"
    report = _enroll(app, data, manifest, "--profile", "lenient")
    assert (report["rows"], report["enrolled"], report["failed"]) == (5, 3, 2)
    reasons = {d["doc_id"]: d["reason"] for d in report["details"] if d["status"] == "failed"}  # type: ignore[attr-defined]
    assert reasons["DOC-4"] == "no face" and "not found" in reasons["DOC-5"]
    flags = [(f["doc_id"], f["other_doc_id"]) for d in report["details"] for f in d["duplicates"]]  # type: ignore[attr-defined]
    assert flags == [("DOC-3", "DOC-1")], "the second photo of one person is flagged against the first"
    model_dirs = list((data / "gallery").iterdir())
    assert len(model_dirs) == 1 and model_dirs[0].name.startswith("mobilefacenet@")
    assert (model_dirs[0] / "gallery.sqlite").is_file() and (model_dirs[0] / "index" / "CURRENT").is_file()

    again = _enroll(app, data, manifest, "--profile", "lenient", code=0)
    # a rerun skips what is done; the missing file is tried again (it may have been added since) and fails
    # again, but the manifest's other documents are enrolled, so the command exits 0
    assert (again["skipped"], again["enrolled"], again["failed"]) == (4, 0, 1)

    from laneface.gallery.store import Gallery
    from laneface.matching import Matcher

    with Gallery.open(data, model_dirs[0].name, create=False) as gallery:
        matcher = Matcher.for_gallery(gallery, data)
        probe = gallery.template("DOC-3")
        assert matcher.verify(probe, "DOC-1").decision == "match"
        assert matcher.verify(probe, "DOC-2").decision == "no_match"
        few = matcher.one_to_few(gallery.template("DOC-2"), ["DOC-1", "DOC-2"])
        assert few.doc_id == "DOC-2" and few.matched
        top = matcher.one_to_n(gallery.template("DOC-1"), k=3)
        assert top.doc_id == "DOC-1" and len(top.candidates) == 3


def test_strict_document_profile_refuses_lfw_sized_faces(app: typer.Typer, tmp_path: Path, manifest: Path) -> None:
    report = _enroll(app, tmp_path / "data", manifest, "--strict", code=1)
    assert report["enrolled"] == 0 and report["failed"] == 5
    reasons = [d["reason"] for d in report["details"]]  # type: ignore[attr-defined]
    assert sum(r.startswith("quality (document):") and "inter_eye_distance" in r for r in reasons) == 3


def _info(app: typer.Typer, data: Path) -> dict[str, object]:
    result = CliRunner().invoke(app, ["--data-dir", str(data), "gallery", "info", "--details", "--json"])
    assert result.exit_code == 0, result.exception
    (gallery,) = json.loads(result.stdout)
    return gallery  # type: ignore[no-any-return]


def test_defaults_enrol_the_simulators_document_photos_with_quality_flags(app: typer.Typer, tmp_path: Path) -> None:
    from laneface.sim.writer import simulate

    simulate(tmp_path / "sim", 4, 15, LFW, distractors=20, night_share=0.0)
    report = _enroll(app, tmp_path / "data", tmp_path / "sim" / "manifest.csv")
    rows, enrolled = int(report["rows"]), int(report["enrolled"])  # type: ignore[call-overload]
    assert rows >= 25 and enrolled >= 0.95 * rows, report["details"]
    assert report["policy"] == "flag" and report["flagged"] > 0  # type: ignore[operator]
    info = _info(app, tmp_path / "data")
    assert info["documents"] == enrolled and info["flagged"] == report["flagged"]
    assert any(req.startswith("inter_eye_distance >= 90") for req, _ in info["common_flags"])  # type: ignore[attr-defined]
    assert len(info["quality_flags"]) == report["flagged"]  # type: ignore[arg-type]


def _ordinary_photos(root: Path, n: int = 40) -> Path:
    """``n`` portrait photos of different people: LFW images cropped to 4:5 and scaled to 304x380."""
    from PIL import Image

    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    (root / "photos").mkdir(parents=True)
    lines = ["doc_id,image,doc_type,citizenship"]
    for i, person in enumerate(people[:: len(people) // n][:n]):
        with Image.open(sorted(person.glob("*.jpg"))[0]) as im:
            photo = im.convert("RGB").crop((25, 0, 225, 250)).resize((304, 380), Image.Resampling.BICUBIC)
        photo.save(root / "photos" / f"D{i:03d}.jpg", quality=90)
        lines.append(f"D{i:03d},photos/D{i:03d}.jpg,ID,XYZ")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "manifest.csv"


def test_defaults_enrol_ordinary_portrait_photos(app: typer.Typer, tmp_path: Path) -> None:
    report = _enroll(app, tmp_path / "data", _ordinary_photos(tmp_path / "photos"))
    assert report["rows"] == 40 and int(report["enrolled"]) >= 38, report["details"]  # type: ignore[call-overload]
    failed = [d["reason"] for d in report["details"] if d["status"] == "failed"]  # type: ignore[attr-defined]
    assert all("faces of similar size, none clearly central" in r for r in failed), failed
    strict = _enroll(app, tmp_path / "strict", tmp_path / "photos" / "manifest.csv", "--strict", code=1)
    assert strict["enrolled"] == 0  # the document profile's gate refuses them all (inter-eye distance < 90 px)


def test_no_face_and_a_group_photo_are_failures_to_enrol(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    shutil.copy(NO_FACE, tmp_path / "b" / "none.png")
    shutil.copy(GROUP, tmp_path / "b" / "group.jpg")
    (tmp_path / "b" / "m.csv").write_text(
        "doc_id,image,doc_type,citizenship\nN1,none.png,P,XYZ\nG1,group.jpg,P,XYZ\n", encoding="utf-8"
    )
    args = ["--data-dir", str(tmp_path / "data"), "gallery", "enroll", str(tmp_path / "b" / "m.csv")]
    result = CliRunner().invoke(app, [*args, "-d", "yunet", "-e", "mobilefacenet", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "FTE line 2 N1: no face" in result.stdout
    assert "FTE line 3 G1: 6 faces of similar size, none clearly central" in result.stdout
    assert "none of the 2 rows could be enrolled" in result.stderr
    assert "1  no face" in result.stderr and "1  N faces of similar size, none clearly central" in result.stderr


def test_the_service_enrols_uploads_into_the_real_gallery(database_url: str, tmp_path: Path) -> None:
    """POST /v1/gallery/documents through ServiceGallery: YuNet + MobileFaceNet, the records side and the
    gallery agree; a photo without a face is a 422 that keeps the enrolled template."""
    from fastapi.testclient import TestClient
    from tests.integration.test_api_service import ADMIN, OFFICER, _settings

    from laneface.api.app import create_app
    from laneface.api.gallery_service import ServiceGallery, enroller_from_settings
    from laneface.gallery.store import Gallery
    from laneface.models import ModelStore

    settings = load_settings(
        data_dir=tmp_path, models__models_dir=MODELS, detection__detector="yunet", embedding__embedder="mobilefacenet"
    )
    store = ModelStore.from_settings(settings)
    service = ServiceGallery(lambda: enroller_from_settings(settings, store, profile="lenient"))
    service_settings = _settings(tmp_path, database_url)
    sections = {k: getattr(service_settings, k) for k in ("records", "privacy", "service")}
    app = create_app(settings.model_copy(update=sections), gallery=service, run_scheduler=False)

    def post(doc: str, path: Path) -> int:
        r = client.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": (path.name, path.read_bytes(), "image/jpeg")},
            data={"doc_id": doc, "doc_type": "passport", "citizenship": "FRA"},
        )
        return r.status_code

    with TestClient(app) as client:
        assert post("DOC-1", LFW / "George_W_Bush" / "George_W_Bush_0001.jpg") == 201
        assert post("DOC-2", LFW / "Colin_Powell" / "Colin_Powell_0001.jpg") == 201
        info = client.get("/v1/gallery", headers=ADMIN).json()
        assert info["documents"] == 2 and info["model_version"].startswith("mobilefacenet@")
        r = client.post(
            "/v1/gallery/documents",
            headers=ADMIN,
            files={"photo": ("x.png", NO_FACE.read_bytes(), "image/png")},
            data={"doc_id": "DOC-1", "doc_type": "passport", "citizenship": "FRA"},
        )
        assert r.status_code == 422 and "no face" in r.text
        assert client.get("/v1/gallery", headers=ADMIN).json()["documents"] == 2
        assert client.delete("/v1/gallery/documents/DOC-2", headers=ADMIN).status_code == 204
        assert client.get("/v1/documents/DOC-2/history", headers=OFFICER).status_code in (200, 404)
        assert client.get("/v1/gallery", headers=ADMIN).json()["documents"] == 1
    with Gallery.open(tmp_path, info["model_version"], create=False) as gallery:  # durable after shutdown
        assert [d for d, _ in gallery.iter_templates()] == ["DOC-1"]

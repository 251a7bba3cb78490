"""`gallery enroll/info/remove`, `calibrate` and `bench gallery` through a local Typer app, with fake models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from tests.unit.test_gallery_enrol import MODEL, FakeEmbedder
from typer.testing import CliRunner

import laneface.detection.factory as detection_factory
import laneface.embedding.factory as embedding_factory
from laneface.cli.bench_gallery import bench_gallery_command
from laneface.cli.gallery import calibrate_command, gallery_app
from laneface.config import load_settings
from laneface.errors import ConfigError, ManifestError
from laneface.gallery.store import Gallery
from laneface.gallery.thresholds import ThresholdSet, ThresholdTable
from laneface.matching import Matcher, MatchPolicy
from laneface.quality.template import QUALITY_128
from laneface.types import FaceDetections


class FakeDetector:
    name = "fake-detector"

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        if image_rgb.max() == 0:
            return FaceDetections.empty(self.name)
        lms = (QUALITY_128.as_array() + 36).astype(np.float32)[None]
        return FaceDetections(np.array([[40, 40, 160, 160]], np.float32), lms, np.array([0.9], np.float32), self.name)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> typer.Typer:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)
    monkeypatch.setattr(detection_factory, "build_detector", lambda name, store, settings=None: FakeDetector())
    monkeypatch.setattr(embedding_factory, "build_embedder", lambda name, store, settings=None: FakeEmbedder())
    a = typer.Typer()

    @a.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(data_dir=tmp_path / "data", models__models_dir=tmp_path)

    a.add_typer(gallery_app, name="gallery")
    a.command("calibrate")(calibrate_command)
    bench = typer.Typer()
    bench.command("gallery")(bench_gallery_command)
    a.add_typer(bench, name="bench")
    return a


def _manifest(d: Path) -> Path:
    colours = {"P1": (200, 120, 90), "P2": (30, 90, 220), "P3": (200, 120, 90), "P4": (0, 0, 0)}
    (d / "img").mkdir()
    lines = ["doc_id,image,doc_type,citizenship,issuer"]
    for doc, colour in colours.items():
        a = np.zeros((200, 200, 3), np.uint8)
        a[:] = colour
        Image.fromarray(a).save(d / "img" / f"{doc}.png")
        lines.append(f"{doc},img/{doc}.png,P,XYZ,XYZ-MFA")
    (d / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d / "manifest.csv"


def _run(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.exception


def test_enroll_reports_fte_and_duplicates_and_reruns_resume(app: typer.Typer, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    (tmp_path / "data").mkdir()
    table = ThresholdTable({}).with_set(ThresholdSet(MODEL, 10**7, ((1e-5, 0.999), (1e-4, 0.99))))
    table.save(tmp_path / "data" / "thresholds.json")
    code, out, exc = _run(app, "gallery", "enroll", str(manifest), "--profile", "none", "--json", "--no-progress")
    assert code == 0, (out, exc)
    report = json.loads(out)
    assert (report["rows"], report["enrolled"], report["failed"], report["duplicates"]) == (4, 3, 1, 1)
    assert report["duplicate_threshold"] == 0.999 and report["gallery_size"] == 3
    assert {d["doc_id"]: d["reason"] for d in report["details"] if d["status"] == "failed"} == {"P4": "no face"}
    assert (tmp_path / "data" / "gallery" / MODEL / "gallery.sqlite").is_file()
    assert (tmp_path / "data" / "gallery" / MODEL / "index" / "CURRENT").is_file()

    code, out, _ = _run(app, "gallery", "enroll", str(manifest), "--profile", "none", "--no-progress")
    assert code == 0 and "skipped 4" in out and "enrolled 0" in out

    code, out, _ = _run(app, "gallery", "info", "--details")
    assert code == 0 and f"{MODEL}: 3 documents (0 with quality flags), 1 failures to enrol, 1 duplicate flags" in out
    assert "FTE P4: no face" in out and "DUPLICATE P3 ~ P1" in out
    code, out, _ = _run(app, "gallery", "remove", "P1", "nobody")
    assert code == 0 and "P1: removed" in out and "nobody: not enrolled" in out
    with Gallery.open(tmp_path / "data", MODEL, create=False) as g:
        assert len(g) == 2 and g.duplicate_flags() == []
        assert dict(g.document("P2").attributes) == {"issuer": "XYZ-MFA"}  # type: ignore[union-attr]


def test_enroll_without_thresholds_warns_that_duplicates_are_not_checked(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["gallery", "enroll", str(_manifest(tmp_path)), "-p", "none", "--no-progress"])
    assert result.exit_code == 0
    assert "warning: no duplicate check" in result.stderr and "laneface calibrate" in result.stderr
    assert "duplicate flags 0" in result.stdout and "FTE line 5 P4: no face" in result.stdout


def test_enroll_by_default_enrols_small_faces_with_quality_flags_shown_by_info(
    app: typer.Typer, tmp_path: Path
) -> None:
    manifest = _manifest(tmp_path)
    code, out, exc = _run(app, "gallery", "enroll", str(manifest), "--no-progress")
    assert code == 0, exc
    assert "enrolled 3, replaced 0 (3 of them with quality flags)" in out and "failed to enrol 1" in out
    assert "policy flag" in out and "commonest quality flags: " in out and "inter_eye_distance >= 90 (3)" in out
    assert "FTE line 5 P4: no face" in out
    code, out, exc = _run(app, "gallery", "info")
    assert code == 0, exc
    assert f"{MODEL}: 3 documents (3 with quality flags), 1 failures to enrol" in out
    assert "commonest quality flags: " in out and "inter_eye_distance >= 90 (3)" in out
    code, out, _ = _run(app, "gallery", "info", "--details")
    flagged = [line for line in out.splitlines() if line.startswith("  FLAGS ")]
    assert [line.split(":")[0] for line in flagged] == ["  FLAGS P1", "  FLAGS P2", "  FLAGS P3"]
    assert all("inter_eye_distance >= 90 (got " in line for line in flagged)
    code, out, _ = _run(app, "gallery", "info", "--details", "--json")
    flags = json.loads(out)[0]["quality_flags"]
    assert sorted(flags) == ["P1", "P2", "P3"] and any(f.startswith("inter_eye_distance >= 90") for f in flags["P1"])
    # the rerun skips what is decided: nothing tried, exit 0
    code, out, _ = _run(app, "gallery", "enroll", str(manifest), "--no-progress")
    assert code == 0 and "skipped 4" in out


def test_enroll_exits_1_when_nothing_could_be_enrolled(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    lines = ["doc_id,image,doc_type,citizenship"]
    for i in range(3):
        Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "img" / f"{i}.png")
        lines.append(f"D{i},img/{i}.png,P,XYZ")
    lines.append("D9,img/missing.png,P,XYZ")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["gallery", "enroll", str(tmp_path / "m.csv"), "--no-progress"])
    assert result.exit_code == 1
    assert "enrolled 0" in result.stdout and "failed to enrol 4" in result.stdout
    assert "none of the 4 rows could be enrolled; commonest reasons:" in result.stderr
    assert "3  no face" in result.stderr and "1  image '...' not found" in result.stderr


def test_enroll_strict_keeps_the_document_gate_and_exits_1_with_the_reasons(app: typer.Typer, tmp_path: Path) -> None:
    args = ["gallery", "enroll", str(_manifest(tmp_path)), "--strict", "--json", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.exception
    report = json.loads(result.stdout)
    reasons = [d["reason"] for d in report["details"] if d["status"] == "failed"]
    assert report["enrolled"] == 0 and len(reasons) == 4
    assert any(r.startswith("quality (document):") and "inter_eye_distance" in r for r in reasons)
    assert report["policy"] == "strict"
    assert "none of the 4 rows could be enrolled" in result.stderr
    assert "3  quality (document): inter_eye_distance >= 90" in result.stderr


def test_bad_manifest_and_bad_options_are_clear_errors(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,image\nA,a.png\n", encoding="utf-8")
    _, _, exc = _run(app, "gallery", "enroll", str(bad), "-p", "none")
    assert isinstance(exc, ManifestError) and "doc_type, citizenship" in str(exc)
    _, _, exc = _run(app, "gallery", "enroll", str(bad), "--multiple-faces", "some")
    assert isinstance(exc, ConfigError)
    _, _, exc = _run(app, "calibrate")
    assert isinstance(exc, ConfigError) and "exactly one source" in str(exc)
    _, _, exc = _run(app, "gallery", "remove", "X")
    assert isinstance(exc, ConfigError) and "--model-version" in str(exc)


def test_calibrate_from_the_gallery_writes_thresholds_the_matcher_loads(app: typer.Typer, tmp_path: Path) -> None:
    with Gallery.open(tmp_path / "data", MODEL) as g:
        rng = np.random.default_rng(0)
        for i in range(60):
            v = rng.standard_normal(8).astype(np.float32)
            g.enrol(f"D{i:02d}", FakeEmbedder().embed([]).__class__(v[None] / np.linalg.norm(v), MODEL)[0])
    code, out, exc = _run(app, "calibrate", "--gallery", "--searches", "60", "--json")
    assert code == 0, exc
    data = json.loads(out)[MODEL]
    assert data["impostor_comparisons"] == 60 * 59 and data["fpir"]["gallery_size"] == 59
    stored = json.loads((tmp_path / "data" / "thresholds.json").read_text())
    assert MODEL in stored["models"]
    with Gallery.open(tmp_path / "data", MODEL) as g:
        matcher = Matcher.for_gallery(g, tmp_path / "data", MatchPolicy(target_fpir=5e-2))
        assert matcher.thresholds.comparisons == 60 * 59
        assert matcher.thresholds.fpir is not None
        assert matcher.one_to_n_threshold() == dict(matcher.thresholds.fpir.points)[5e-2]
        assert matcher.one_to_n(g.template("D07")).doc_id == "D07"


def test_bench_gallery_prints_one_json_list(app: typer.Typer) -> None:
    args = ["bench", "gallery", "--size", "3000", "--dim", "16", "--queries", "20", "--exact-queries", "10"]
    args += ["--batch", "50", "--indexes", "exact,flat,hnsw", "--ef-search", "16,32", "--threads", "1", "--json"]
    code, out, exc = _run(app, *args)
    assert code == 0, exc
    rows = json.loads(out)
    assert isinstance(rows, list) and [r["index"].split("(")[0] for r in rows] == [
        "exact-numpy",
        "faiss-flat",
        "faiss-hnsw",
        "faiss-hnsw",
    ]
    for r in rows:
        assert {"index", "recall_at_1", "p50_ms", "p99_ms", "memory_mb", "build_s"} <= set(r)
        assert 0.0 <= r["recall_at_1"] <= 1.0 and r["p99_ms"] >= r["p50_ms"] > 0
    assert rows[0]["recall_at_1"] == 1.0 and rows[0]["ratio_to_bound"] is not None
    _, _, exc = _run(app, "bench", "gallery", "--indexes", "annoy")
    assert isinstance(exc, ConfigError)


def test_a_rerun_over_earlier_failures_still_exits_1_with_the_reasons(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    lines = ["doc_id,image,doc_type,citizenship"]
    for i in range(2):
        Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "img" / f"{i}.png")
        lines.append(f"D{i},img/{i}.png,P,XYZ")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["gallery", "enroll", str(tmp_path / "m.csv"), "--no-progress"]
    first = CliRunner().invoke(app, args)
    again = CliRunner().invoke(app, args)
    assert first.exit_code == 1 and again.exit_code == 1, again.output
    assert "skipped 2" in again.stdout  # decided before under the same policy: not tried again
    assert "none of the 2 rows could be enrolled" in again.stderr and "2  no face" in again.stderr

"""`quality` command with a fake detector: JSON per face, no-face records, tables, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

import laneface.cli.quality as quality_cli
from laneface.config import load_settings
from laneface.errors import ConfigError
from laneface.quality.template import QUALITY_128
from laneface.types import FaceDetections


class FakeDetector:
    """Two faces in any image that is not black; none in a black one."""

    name = "fake"

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        if image_rgb.max() == 0:
            return FaceDetections.empty(self.name)
        lms = np.stack([QUALITY_128.as_array() + 20, QUALITY_128.as_array() * 1.5 + 100]).astype(np.float32)
        boxes = np.array([[30, 20, 150, 170], [120, 90, 300, 330]], np.float32)
        return FaceDetections(boxes, lms, np.array([0.95, 0.7], np.float32), self.name)


@pytest.fixture
def detector_names() -> list[str]:
    return []


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, detector_names: list[str]) -> typer.Typer:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)

    def fake_build(name: str, store: object, settings: object = None) -> FakeDetector:
        detector_names.append(name)
        return FakeDetector()

    monkeypatch.setattr(quality_cli, "build_detector", fake_build)
    a = typer.Typer()

    @a.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = load_settings(data_dir=tmp_path / "data", models__models_dir=tmp_path)

    a.command("quality")(quality_cli.quality_command)
    return a


@pytest.fixture
def images(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    face = tmp_path / "face.png"
    Image.fromarray(rng.integers(40, 220, (400, 400, 3), dtype=np.uint8)).save(face)
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(black)
    return face, black


def test_json_has_one_object_per_face_and_one_per_faceless_image(app: typer.Typer, images: tuple[Path, Path]) -> None:
    face, black = images
    result = CliRunner().invoke(app, ["quality", str(face), str(black), "--json", "-p", "document"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [(o["image"], o["face_index"]) for o in out] == [(str(face), 0), (str(face), 1), (str(black), None)]
    for o in out[:2]:
        assert {"image", "face_index", "box_xyxy", "unified", "passed", "failed", "profile", "measures"} <= set(o)
        assert o["profile"] == "document" and o["passed"] is False
        assert any(f.startswith("inter_eye_distance >= 90") for f in o["failed"])
        assert {"raw", "scalar", "status"} <= set(o["measures"]["sharpness"])
        assert len(o["box_xyxy"]) == 4
    assert out[2] == {
        "image": str(black),
        "face_index": None,
        "box_xyxy": None,
        "unified": None,
        "passed": False,
        "failed": ["no face detected"],
        "profile": "document",
        "measures": {},
    }


def test_table_output_shows_measures_and_verdict(app: typer.Typer, images: tuple[Path, Path]) -> None:
    face, black = images
    result = CliRunner().invoke(app, ["quality", str(face), str(black)])
    assert result.exit_code == 0, result.output
    assert "inter_eye_distance" in result.output and "(vehicle)" in result.output
    assert "no face detected - FAIL" in result.output


def test_user_profiles_file_and_detector_option(
    app: typer.Typer, images: tuple[Path, Path], tmp_path: Path, detector_names: list[str]
) -> None:
    user = tmp_path / "p.toml"
    user.write_text("[profiles.any]\n[profiles.any.requirements]\ndetection_confidence = { min = 0.5 }\n")
    result = CliRunner().invoke(
        app, ["quality", str(images[0]), "--profile", "any", "--profiles-file", str(user), "--json", "-d", "yunet"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [o["passed"] for o in out] == [True, True]
    assert detector_names == ["yunet"]


def test_unknown_profile_and_bad_file_raise_config_error(
    app: typer.Typer, images: tuple[Path, Path], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["quality", str(images[0]), "--profile", "nope"])
    assert isinstance(result.exception, ConfigError)
    bad = tmp_path / "bad.toml"
    bad.write_text("[profiles.x.requirements]\nyaw = { mni = 1 }\n")
    result = CliRunner().invoke(app, ["quality", str(images[0]), "--profiles-file", str(bad)])
    assert isinstance(result.exception, ConfigError)

"""The lane pipeline with real models (YuNet + MobileFaceNet from ../shared/models) on a small passage made
of LFW photos (an mp4 front camera and a frame-folder side camera), matched against a gallery enrolled
from other photos of the same people; then `laneface run` on it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from laneface.config import Settings, load_settings
from laneface.imageio import read_image

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"

if not (MODELS / "mobilefacenet").is_dir() or not (MODELS / "yunet").is_dir() or not LFW.is_dir():
    pytest.skip(f"../shared not present at {SHARED}", allow_module_level=True)
pytestmark = [pytest.mark.models, pytest.mark.shared]

PEOPLE = {"DOC-BUSH": "George_W_Bush", "DOC-POWELL": "Colin_Powell", "DOC-BLAIR": "Tony_Blair"}
W, H, N_FRAMES = 640, 360, 10


def _lfw(name: str, n: int) -> np.ndarray:
    return read_image(LFW / name / f"{name}_{n:04d}.jpg")


def _paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    h, w = image.shape[:2]
    canvas[y : y + h, x : x + w] = image


def _scene(faces: list[tuple[np.ndarray, int, int, int]]) -> list[np.ndarray]:
    """Frames with each (image, x, y, dx per frame) pasted on a grey background."""
    frames = []
    for i in range(N_FRAMES):
        canvas = np.full((H, W, 3), 90, np.uint8)
        for image, x, y, dx in faces:
            _paste(canvas, image, x + dx * i, y)
        frames.append(canvas)
    return frames


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


@pytest.fixture
def settings(tmp_path: Path, clean_env: None) -> Settings:
    """A data directory whose gallery holds the *first* LFW photo of each person (YuNet + MobileFaceNet)."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.gallery.enrol import Enroller, EnrolOptions
    from laneface.gallery.store import Gallery
    from laneface.models import ModelStore
    from laneface.quality import QualityAssessor

    s = load_settings(
        data_dir=tmp_path / "data",
        models__models_dir=MODELS,
        detection__detector="yunet",
        embedding__embedder="mobilefacenet",
    )
    store = ModelStore.from_settings(s)
    det = build_detector("yunet", store, s.detection)
    emb = build_embedder("mobilefacenet", store, s.embedding)
    photos = tmp_path / "documents"
    photos.mkdir()
    lines = ["doc_id,image,doc_type,citizenship"]
    for doc, name in PEOPLE.items():
        src = LFW / name / f"{name}_0001.jpg"
        (photos / src.name).write_bytes(src.read_bytes())
        lines.append(f"{doc},{src.name},P,USA")
    manifest = photos / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Gallery.open(s.data_dir, emb.model_version) as gallery:
        report = Enroller(
            gallery, det, emb, QualityAssessor.from_config("lenient"), EnrolOptions(profile="lenient")
        ).enrol_manifest(manifest)
        assert report.enrolled == 3, report.details
    return s


def _passage(directory: Path, documents: list[str], direction: str = "inbound") -> Path:
    import cv2

    directory.mkdir(parents=True)
    bush, powell = _lfw("George_W_Bush", 3), _lfw("Colin_Powell", 2)
    front = _scene([(bush, 40, 50, 3), (powell, 330, 60, 3)])
    writer = cv2.VideoWriter(str(directory / "cam_front.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (W, H))
    assert writer.isOpened()
    for frame in front:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    side = directory / "cam_left"
    side.mkdir()
    small_powell = cv2.resize(powell, (200, 200), interpolation=cv2.INTER_AREA)
    for i, frame in enumerate(_scene([(small_powell, 20, 80, 12)])):
        cv2.imwrite(str(side / f"{i:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    meta = {
        "passage_id": f"LFW-{direction}",
        "lane": "L1",
        "direction": direction,
        "started_at": "2026-11-22T09:00:00Z",
        "documents": documents,
        "cameras": {
            "front": {"file": "cam_front.mp4", "view": "front", "fps": 10},
            "left": {"file": "cam_left", "view": "left", "fps": 10},
        },
    }
    (directory / "passage.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def test_real_pipeline_finds_links_and_identifies_both_occupants(settings: Settings, tmp_path: Path) -> None:
    from laneface.pipeline.lane import LanePipeline

    inbound = _passage(tmp_path / "in", ["DOC-BUSH", "DOC-POWELL"])
    outbound = _passage(tmp_path / "out", [], direction="outbound")
    with LanePipeline.from_settings(settings) as pipeline:
        result = pipeline.process(inbound)
        out = pipeline.process(outbound)
    assert result.occupant_count == 2, [o.as_json() for o in result.occupants]
    assert result.complete_capture
    by_doc = {o.match.doc_id: o for o in result.occupants}
    assert set(by_doc) == {"DOC-BUSH", "DOC-POWELL"}
    assert {o.match.mode for o in result.occupants} == {"one_to_few"}
    assert by_doc["DOC-POWELL"].cameras == ("front", "left")
    assert all(o.row == 1 for o in result.occupants)
    assert result.frames_processed == 5 + 10 and result.video_s == pytest.approx(1.0)  # front 5 fps, side 10
    # outbound: 1:N at the target FPIR, a stricter threshold than 1:few (MobileFaceNet scores these other
    # photos of the same people at 0.6-0.75): whatever is decided, nobody gets a wrong document
    assert out.occupant_count == 2 and {o.match.mode for o in out.occupants} == {"one_to_n"}
    assert {o.match.doc_id for o in out.occupants} <= {None, "DOC-BUSH", "DOC-POWELL"}
    assert all(o.match.score is not None and o.match.score > 0.5 for o in out.occupants)


def test_run_command_on_real_models(settings: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from laneface.cli.app import app

    good = _passage(tmp_path / "good", ["DOC-BUSH", "DOC-POWELL"])
    out = tmp_path / "results.jsonl"
    args = [
        "--data-dir",
        str(settings.data_dir),
        "--models-dir",
        str(MODELS),
        "run",
        str(good),
        str(tmp_path / "missing"),
        "-d",
        "yunet",
        "-e",
        "mobilefacenet",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    first, second = (json.loads(x) for x in out.read_text().splitlines())
    assert first["occupant_count"] == 2 and first["complete_capture"] is True
    assert sorted(o["match"]["doc_id"] for o in first["occupants"]) == ["DOC-BUSH", "DOC-POWELL"]
    assert second["passage_id"] is None and "not found" in second["error"]
    # the 1:few target: a stricter one raises the threshold the occupants were decided at
    lenient = {o["match"]["threshold"] for o in first["occupants"]}
    strict_out = tmp_path / "strict.jsonl"
    strict = CliRunner().invoke(app, [*args[:5], str(good), *args[7:-1], str(strict_out), "--few-fmr", "0.001"])
    assert strict.exit_code == 0, (strict.output, strict.exception)
    (line,) = (json.loads(x) for x in strict_out.read_text().splitlines())
    assert len(lenient) == 1 and min(o["match"]["threshold"] for o in line["occupants"]) > max(lenient)
    refused = CliRunner().invoke(app, [*args, "--few-fmr", "0.9"])
    assert refused.exit_code == 2 and "--few-fmr" in refused.output

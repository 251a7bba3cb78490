"""`laneface bench quality` end to end on a small LFW subset of ../shared (YuNet + MobileFaceNet)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.imageio import read_image
from laneface.quality import QualityAssessor, UnifiedQualityModel

pytestmark = [pytest.mark.models, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"
PAIRS = SHARED / "data" / "lfw" / "pairs.txt"
NEEDED = (MODELS / "yunet" / "face_detection_yunet_2023mar.onnx", MODELS / "mobilefacenet", LFW, PAIRS)

if not all(p.exists() for p in NEEDED):
    pytest.skip(f"../shared LFW or models not found at {SHARED}", allow_module_level=True)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path, Path]:
    tmp = tmp_path_factory.mktemp("bench_quality")
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.upper().startswith("LANEFACE_")}
    try:
        out, model = tmp / "out", tmp / "unified.json"
        args = ["--data-dir", str(tmp / "data"), "--models-dir", str(MODELS), "bench", "quality"]
        args += ["--lfw-dir", str(LFW), "--pairs", str(PAIRS), "--max-pairs", "60", "--train-repeats", "2"]
        args += ["--out", str(out), "--fit-out", str(model), "--json"]
        result = CliRunner().invoke(app, args)
    finally:
        os.environ.update(saved)
    assert result.exit_code == 0, result.output
    return json.loads(result.output), out, model


def test_bench_quality_writes_curves_json_and_model(bench_run: tuple[dict[str, object], Path, Path]) -> None:
    summary, out, model_path = bench_run
    for name in ("bench_quality.json", "probes.csv", "edc.png", "edc_all_measures.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "edc.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "bench_quality.json").read_text())["threshold"] == summary["threshold"]
    assert summary["train_folds"] == [0, 1, 2, 3, 4] and summary["test_folds"] == [5, 6, 7, 8, 9]
    test = summary["test"]
    assert isinstance(test, dict) and test["probes"] == 30 and 0 <= test["failures_to_acquire"] <= 30
    edc = summary["edc"]
    assert isinstance(edc, dict)
    assert {"unified", "random", "oracle", "measure:sharpness", "measure:yaw"} <= set(edc)
    for row in edc.values():
        assert set(row) == {"fnmr", "reduction_at_10pct", "area", "area_relative"}
        assert set(row["fnmr"]) == {"0", "0.05", "0.1", "0.2", "0.3"}
        assert all(0.0 <= v <= 1.0 for v in row["fnmr"].values())
    assert edc["random"]["fnmr"]["0"] == edc["random"]["fnmr"]["0.3"] == edc["unified"]["fnmr"]["0"]
    assert edc["oracle"]["area"] <= edc["unified"]["area"]
    assert {"reduction_at_10pct", "unified_beats_every_single_measure_at_10pct"} <= set(summary["done_when"])  # type: ignore[arg-type]
    model = UnifiedQualityModel.load(model_path)
    assert model.metadata["threshold"] == summary["threshold"]
    assert model.metadata["embedder"] == "mobilefacenet" and model.metadata["detector"] == "yunet"


def test_refitted_model_plugs_into_the_assessor(bench_run: tuple[dict[str, object], Path, Path]) -> None:
    from laneface.detection.yunet import YuNetDetector

    _, _, model_path = bench_run
    image = read_image(LFW / "George_W_Bush" / "George_W_Bush_0001.jpg")
    dets = YuNetDetector(MODELS / "yunet" / "face_detection_yunet_2023mar.onnx").detect(image)
    for assessor in (
        QualityAssessor.from_config("vehicle", unified_model_file=model_path),
        QualityAssessor.from_config("vehicle"),  # the shipped model
    ):
        report = assessor.assess(image, dets)[0]
        assert report.unified is not None and 0.0 <= report.unified <= 100.0
    shipped = QualityAssessor.from_config("vehicle").assess(image, dets)[0].unified
    assert shipped is not None and shipped > 70  # a clean, frontal, sharp LFW face


def test_bench_quality_refuses_model_with_fit_out(tmp_path: Path) -> None:
    args = ["bench", "quality", "--lfw-dir", str(LFW), "--pairs", str(PAIRS), "--model", "shipped"]
    result = CliRunner().invoke(app, [*args, "--fit-out", str(tmp_path / "m.json")])
    assert result.exit_code != 0

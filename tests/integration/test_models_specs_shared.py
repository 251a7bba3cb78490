"""Models a user brings, with the real files of ../shared: SFace (fixed batch 1) and ONNX detectors described
in a specs file, onnxruntime kept quiet, and `laneface models check` on a few LFW pairs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from laneface.config import ModelSettings, Settings
from laneface.detection.factory import build_detector
from laneface.embedding.factory import build_embedder
from laneface.errors import ConfigError
from laneface.gallery.thresholds import load_thresholds
from laneface.imageio import read_image
from laneface.models import ModelStore

pytestmark = [pytest.mark.models, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"
SAMPLES = SHARED / "data" / "samples"

if not (MODELS / "sface").is_dir() or not LFW.is_dir():
    pytest.skip(f"shared SFace model or LFW not found under {SHARED}", allow_module_level=True)

SFACE = MODELS / "sface" / "face_recognition_sface_2021dec.onnx"
SFACE_SHA = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
YUNET_N = MODELS / "yunet" / "yunet_n_640_640.onnx"
YUNET_N_SHA = "25a606a145a5b6d7271ae138fbd00eba91dad8b83222ae3f2c7ecd0f4a7b0e31"
RETINAFACE = MODELS / "retinaface" / "retinaface_mnet025_640.onnx"
RETINAFACE_SHA = "f8cce06cdfa5d2a07a8378c8cff4c4f33f0b00a3f24d9ef53042ff591a881eb7"


def sface_toml(embedding_dim: int = 128) -> str:
    return f"""
[[model]]
name = "sface"
version = "2021dec"
kind = "embedder"
backend = "onnx-arcface"
file = "{SFACE}"
sha256 = "{SFACE_SHA}"
licence = "Apache-2.0"
use = "commercial"
input_size = [112, 112]
embedding_dim = {embedding_dim}
alignment = "arcface_112"
preprocessing = {{ color = "RGB", mean = 0.0, std = 1.0 }}
"""


DETECTORS_TOML = f"""
[[model]]
name = "agency-yunet-n"
version = "n-640"
kind = "detector"
backend = "yunet"
file = "{YUNET_N}"
sha256 = "{YUNET_N_SHA}"
licence = "Apache-2.0"
use = "commercial"
score_threshold = 0.7

[[model]]
name = "agency-retinaface"
version = "mnet0.25"
kind = "detector"
backend = "retinaface"
file = "{RETINAFACE}"
sha256 = "{RETINAFACE_SHA}"
licence = "MIT"
use = "commercial"
input_size = [640, 640]
nms_iou = 0.4

[[model]]
name = "agency-retinaface-320"
version = "mnet0.25"
kind = "detector"
backend = "retinaface"
file = "{RETINAFACE}"
sha256 = "{RETINAFACE_SHA}"
licence = "MIT"
use = "commercial"
input_size = [320, 320]
"""

FACES = [
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "Abel_Pacheco/Abel_Pacheco_0004.jpg",
    "Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
    "Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg",
]


def _store(tmp_path: Path, text: str, log_level: str = "WARNING") -> ModelStore:
    specs = tmp_path / "specs.toml"
    specs.write_text(text, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        models=ModelSettings(models_dir=MODELS, specs_file=specs),
        log_level=log_level,  # type: ignore[arg-type]
    )
    return ModelStore.from_settings(settings)


@pytest.fixture(scope="module")
def lfw_crops(tmp_path_factory: pytest.TempPathFactory) -> list[npt.NDArray[np.uint8]]:
    store = _store(tmp_path_factory.mktemp("crops"), sface_toml())
    det = build_detector("yunet", store)
    emb = build_embedder("sface", store)
    crops = []
    for f in FACES:
        image = read_image(LFW / f)
        dets = det.detect(image)
        assert len(dets) >= 1, f
        crops.append(emb.crops(image, dets[:1])[0])
    return crops


def test_sface_from_specs_file_embeds_a_batch(tmp_path: Path, lfw_crops: list[npt.NDArray[np.uint8]]) -> None:
    """SFace's input batch is fixed at 1: a batch of 4 used to fail in onnxruntime."""
    emb = build_embedder("sface", _store(tmp_path, sface_toml()))
    assert emb.model_version.startswith("sface@2021dec+")
    batch = emb.embed(lfw_crops).vectors
    assert batch.shape == (4, 128)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([emb.embed([c]).vectors for c in lfw_crops])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    sim = batch @ batch.T
    assert sim[0, 1] > 0.5 and sim[2, 3] > 0.5  # same person
    assert max(sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3]) < 0.3  # different people


def test_sface_with_a_wrong_dimension_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outputs 128-d templates; the spec says embedding_dim 512"):
        build_embedder("sface", _store(tmp_path, sface_toml(512)))


def test_detectors_from_specs_file_are_built_by_the_factory(tmp_path: Path) -> None:
    store = _store(tmp_path, DETECTORS_TOML)
    group = read_image(SAMPLES / "group_6_faces.jpg")
    yunet_n = build_detector("agency-yunet-n", store)
    retina = build_detector("agency-retinaface", store)
    assert (yunet_n.name, retina.name) == ("agency-yunet-n", "agency-retinaface")
    assert len(yunet_n.detect(group)) == 6
    assert len(retina.detect(group)) == 6
    assert float(yunet_n.detect(group).scores.min()) >= 0.7  # the spec's score threshold


def test_detector_spec_with_the_wrong_input_size_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fixed input of 640x640; input_size \(320, 320\) differs"):
        build_detector("agency-retinaface-320", _store(tmp_path, DETECTORS_TOML))


def _laneface(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEFACE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    cmd = [sys.executable, "-m", "laneface", "--data-dir", str(tmp_path / "data"), "--models-dir", str(MODELS)]
    return subprocess.run(
        [*cmd, "--model-specs", str(tmp_path / "specs.toml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("verbose", [False, True])
def test_onnxruntime_warnings_only_with_verbose(tmp_path: Path, verbose: bool) -> None:
    """SFace makes onnxruntime print a warning per initializer at load: hidden unless -v."""
    (tmp_path / "specs.toml").write_text(sface_toml(), encoding="utf-8")
    proc = _laneface(tmp_path, *(["-v"] if verbose else []), "models", "check", "sface")
    assert proc.returncode == 0, proc.stderr
    assert ("W:onnxruntime" in proc.stderr) is verbose, proc.stderr[:2000]


def test_models_check_on_lfw_writes_thresholds(tmp_path: Path) -> None:
    (tmp_path / "specs.toml").write_text(sface_toml(), encoding="utf-8")
    proc = _laneface(
        tmp_path, "models", "check", "sface", "--lfw-dir", str(LFW), "--limit", "20", "-d", "yunet", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["check"]["embedding_dim"] == 128
    assert report["lfw"]["pairs"] == 20
    assert report["lfw"]["accuracy_mean"] >= 0.9
    mv = report["check"]["model_version"]
    assert report["thresholds_file"] == str(tmp_path / "data" / "thresholds.json")
    # matching with this model works at once: the thresholds load for its model version
    ts = load_thresholds(tmp_path / "data").get(mv)
    assert 0.0 < ts.at_fmr(1e-2) < 1.0
    assert "fold 0" in ts.source


def test_models_check_shape_mismatch_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "specs.toml").write_text(sface_toml(256), encoding="utf-8")
    proc = _laneface(tmp_path, "models", "check", "sface")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "embedding_dim 256" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_loading_sface_prints_no_onnxruntime_warnings(tmp_path: Path) -> None:
    """Through the API with default settings (log level WARNING): the embedder's session logs errors only."""
    (tmp_path / "specs.toml").write_text(sface_toml(), encoding="utf-8")
    code = (
        "from pathlib import Path; from laneface.config import load_settings; from laneface.models import ModelStore; "
        "from laneface.embedding.factory import build_embedder; "
        f"s = load_settings(data_dir=Path({str(tmp_path / 'data')!r}), "
        f"models__specs_file=Path({str(tmp_path / 'specs.toml')!r})); "
        "print(build_embedder('sface', ModelStore.from_settings(s)).model_version)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANEFACE_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("sface@2021dec+")
    assert "onnxruntime" not in proc.stderr, proc.stderr[:2000]

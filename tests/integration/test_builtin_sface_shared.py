"""The built-in SFace and YuNet-n specs on the real files of ../shared: `auto` resolves to them, templates carry
SFace's model version, and the shipped thresholds separate mated from non-mated LFW faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from laneface.config import load_settings
from laneface.detection.factory import build_detector
from laneface.embedding.factory import build_embedder
from laneface.gallery.thresholds import load_thresholds
from laneface.imageio import read_image
from laneface.models import BUILTIN_SPECS, ModelStore

pytestmark = [pytest.mark.models, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"
GROUP = SHARED / "data" / "samples" / "group_6_faces.jpg"

if not (MODELS / "sface").is_dir() or not (MODELS / "yunet" / "yunet_n_dynamic.onnx").is_file() or not LFW.is_dir():
    pytest.skip(f"shared SFace / YuNet-n models or LFW not found under {SHARED}", allow_module_level=True)

SPECS = {s.name: s for s in BUILTIN_SPECS}
# two people, two images each
FACES = [
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "Abel_Pacheco/Abel_Pacheco_0004.jpg",
    "Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg",
    "Akhmed_Zakayev/Akhmed_Zakayev_0003.jpg",
]


def test_builtin_files_in_shared_match_their_specs(tmp_path: Path) -> None:
    store = ModelStore([MODELS])
    for name in ("sface", "yunet-n", "yunet", "yunet-2026may"):
        store.locate(name)  # raises ChecksumError on a mismatch


def test_auto_stack_is_yunet_n_and_sface_with_shipped_thresholds(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", models__models_dir=MODELS)
    assert (settings.detection.detector, settings.embedding.embedder) == ("auto", "auto")
    store = ModelStore.from_settings(settings)
    det = build_detector("auto", store, settings.detection)
    emb = build_embedder("auto", store, settings.embedding)
    assert det.name == "yunet-n"
    assert emb.model_version == SPECS["sface"].model_version
    crops = []
    for f in FACES:
        image = read_image(LFW / f)
        dets = det.detect(image)
        assert len(dets) >= 1, f
        crops.append(emb.crops(image, dets[:1])[0])
    vectors = emb.embed(crops).vectors
    assert vectors.shape == (4, 128)
    sim = vectors @ vectors.T
    t = load_thresholds(settings.data_dir).get(emb.model_version).at_fmr(1e-3)
    assert sim[0, 1] > t and sim[2, 3] > t  # mated pairs match at FMR 1e-3
    assert max(sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3]) < t  # non-mated pairs do not


def test_yunet_n_finds_the_six_faces_of_the_group_photo() -> None:
    if not GROUP.is_file():
        pytest.skip(f"{GROUP} not found")
    det = build_detector("yunet-n", ModelStore([MODELS]))
    faces = det.detect(read_image(GROUP))
    assert len(faces) == 6
    assert np.all(np.asarray(faces.scores) >= 0.6)

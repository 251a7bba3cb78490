"""MTCNN on the weights the mtcnn PyPI package ships (a laneface dependency), on the shared sample images."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import LFW_DIR, SAMPLES, SHARED_MODELS, require_shared

from laneface.config import DetectionSettings, load_settings
from laneface.detection.factory import build_detector
from laneface.evaluation.bench_detect import _found, make_frame
from laneface.imageio import read_image
from laneface.models import ModelStore

require_shared()
pytestmark = [pytest.mark.models, pytest.mark.shared]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    # an empty models directory: the weights must come from the installed package, nothing else
    return ModelStore.from_settings(load_settings(models__models_dir=tmp_path_factory.mktemp("models")))


def test_weights_come_from_the_package_and_verify(store: ModelStore) -> None:
    for net in ("pnet", "rnet", "onet"):
        located = store.locate(f"mtcnn-{net}")
        assert located.source == "package:mtcnn"
        assert located.path.name == f"{net}.lz4"


def test_finds_the_six_faces_with_canonical_landmarks(store: ModelStore) -> None:
    dets = build_detector("mtcnn", store).detect(read_image(SAMPLES / "group_6_faces.jpg"))
    assert len(dets) == 6
    for lm, box in zip(dets.landmarks_xy, dets.boxes_xyxy, strict=True):
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
        assert lm[:2, 1].mean() < lm[2, 1] < lm[3:, 1].mean()
        margin = 0.15 * (box[2] - box[0])
        assert (lm[:, 0] > box[0] - margin).all() and (lm[:, 0] < box[2] + margin).all()
    assert ((dets.scores >= 0.8) & (dets.scores <= 1)).all()


def test_no_face_sample_gives_no_detection(store: ModelStore) -> None:
    assert len(build_detector("mtcnn", store).detect(read_image(SAMPLES / "misc" / "no_face.png"))) == 0


def test_finds_faces_of_ten_pixels_between_the_eyes(store: ModelStore) -> None:
    det = build_detector("mtcnn", store)
    hog = build_detector("dlib-hog", store)
    rng = np.random.default_rng(3)
    names = ["Aaron_Eckhart", "Colin_Powell", "George_W_Bush", "Tony_Blair", "Serena_Williams"]
    hits = hog_hits = 0
    for name in names:
        frame, eyes, photo = make_frame(read_image(LFW_DIR / name / f"{name}_0001.jpg"), 10.0, rng)
        hits += _found(det.detect(frame), eyes, photo)[0]
        hog_hits += _found(hog.detect(frame), eyes, photo)[0]
    assert hits >= 4
    assert hog_hits <= 1  # what the default had before: the test would not tell the two apart otherwise


def test_a_larger_minimum_face_skips_small_faces(store: ModelStore) -> None:
    frame, eyes, photo = make_frame(
        read_image(LFW_DIR / "Colin_Powell" / "Colin_Powell_0001.jpg"), 10.0, np.random.default_rng(5)
    )
    assert _found(build_detector("mtcnn", store).detect(frame), eyes, photo)[0]
    coarse = build_detector("mtcnn", store, DetectionSettings(min_face_px=60))
    assert not _found(coarse.detect(frame), eyes, photo)[0]


def test_shared_models_are_not_needed(store: ModelStore) -> None:
    assert SHARED_MODELS.is_dir()  # the module is skipped without ../shared; the store above never reads it
    assert all(d != SHARED_MODELS for d in store.search_dirs)

"""Real models on the shared data: dlib and ONNX detectors, alignment, embedders, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import LFW_DIR, SAMPLES, SHARED_MODELS, require_shared

from laneface.config import DetectionSettings, EmbeddingSettings, load_settings
from laneface.detection.factory import DETECTORS, build_detector, resolve_detector_name
from laneface.embedding.base import embed_detections
from laneface.embedding.factory import build_embedder
from laneface.errors import UnknownComponentError
from laneface.imageio import read_image
from laneface.models import ModelStore

require_shared()
pytestmark = [pytest.mark.models, pytest.mark.shared]


@pytest.fixture(scope="module")
def store() -> ModelStore:
    return ModelStore.from_settings(load_settings(models__models_dir=SHARED_MODELS))


@pytest.fixture(scope="module")
def group() -> np.ndarray:
    return read_image(SAMPLES / "group_6_faces.jpg")


def _check_landmark_order(lms: np.ndarray, boxes: np.ndarray) -> None:
    for lm, box in zip(lms, boxes, strict=True):
        assert lm[0, 0] < lm[1, 0], "eye on the image's left comes first"
        assert lm[3, 0] < lm[4, 0], "mouth corner on the image's left comes first"
        assert lm[:2, 1].mean() < lm[2, 1] < lm[3:, 1].mean(), "eyes above nose above mouth"
        margin = 0.15 * (box[2] - box[0])
        assert (lm[:, 0] > box[0] - margin).all() and (lm[:, 0] < box[2] + margin).all()


@pytest.mark.parametrize("name", ["dlib-hog", "yunet", "yunet-2026may", "retinaface", "scrfd", "scrfd-500m"])
def test_every_detector_finds_the_six_faces_with_canonical_landmarks(store, group, name) -> None:
    dets = build_detector(name, store).detect(group)
    assert len(dets) == 6
    _check_landmark_order(dets.landmarks_xy, dets.boxes_xyxy)
    assert ((dets.scores > 0) & (dets.scores <= 1)).all()


def test_dlib_mmod_detector_on_a_smaller_image(store, group) -> None:
    import cv2

    small = np.ascontiguousarray(cv2.resize(group, (640, 443), interpolation=cv2.INTER_AREA))
    dets = build_detector("dlib-mmod", store, DetectionSettings(upscale=1.5)).detect(small)
    assert len(dets) == 6
    _check_landmark_order(dets.landmarks_xy, dets.boxes_xyxy)


@pytest.mark.parametrize("name", ["dlib-hog", "yunet", "retinaface", "scrfd"])
def test_no_face_sample_gives_no_detection(store, name) -> None:
    assert len(build_detector(name, store).detect(read_image(SAMPLES / "misc" / "no_face.png"))) == 0


def test_auto_prefers_onnx_when_present_and_dlib_otherwise(store, tmp_path) -> None:
    assert resolve_detector_name("auto", store) == "yunet-n"  # the strongest licence-clean detector present
    bare = ModelStore([tmp_path])
    assert resolve_detector_name("auto", bare) == "dlib-hog"
    with pytest.raises(UnknownComponentError):
        resolve_detector_name("nope", store)
    assert set(DETECTORS) >= {"dlib-hog", "dlib-mmod", "yunet", "retinaface", "scrfd"}


def test_upscaling_recovers_small_faces(store, group) -> None:
    import cv2

    tiny = np.ascontiguousarray(cv2.resize(group, (160, 111), interpolation=cv2.INTER_AREA))  # IED about 3-6 px
    plain = build_detector("yunet", store).detect(tiny)
    up = build_detector("yunet", store, DetectionSettings(upscale=4.0, tile_size=640)).detect(tiny)
    assert len(up) == 6
    assert len(plain) < 6
    assert (up.boxes_xyxy[:, 2] <= 160.5).all()  # mapped back to the small image


def _lfw(name: str, i: int) -> np.ndarray:
    return read_image(LFW_DIR / name / f"{name}_{i:04d}.jpg")


@pytest.mark.parametrize(
    "embedder_name",
    [
        "dlib-resnet",
        "dlib-resnet+flip",
        "dlib-resnet+tta",
        "mobilefacenet",
        "mobilefacenet+flip",
        "mobilefacenet+tta",
    ],
)
def test_embedders_separate_mated_from_non_mated_pairs(store, embedder_name) -> None:
    det = build_detector("yunet", store)
    emb = build_embedder(embedder_name, store, EmbeddingSettings(batch_size=2))
    assert emb.name == embedder_name  # result files are named after it: a +tta run never overwrites a plain one
    faces = [_lfw("George_W_Bush", 1), _lfw("George_W_Bush", 2), _lfw("Colin_Powell", 1), _lfw("Colin_Powell", 2)]
    vecs = []
    for img in faces:
        d = det.detect(img)
        k = int(np.argmax(d.scores))
        tb = embed_detections(emb, img, d[k : k + 1])
        assert tb.vectors.shape == (1, 128)
        assert tb.vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(tb.vectors, axis=1), 1.0, atol=1e-5)
        assert tb.model_version == emb.model_version
        vecs.append(tb.vectors[0])
    v = np.array(vecs)
    sim = v @ v.T
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[1, 3]
    assert sim[2, 3] > sim[0, 3] and sim[2, 3] > sim[1, 2]


def test_dlib_flip_averages_the_mirrored_chip_and_has_its_own_model_version(store) -> None:
    plain = build_embedder("dlib-resnet", store)
    flip = build_embedder("dlib-resnet+flip", store)
    assert flip.model_version == plain.model_version + "+flip"  # never compared with plain templates
    half = np.random.default_rng(0).integers(0, 256, (150, 75, 3), dtype=np.uint8)
    symmetric = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))
    np.testing.assert_allclose(flip.embed([symmetric]).vectors, plain.embed([symmetric]).vectors, atol=1e-5)
    lopsided = np.ascontiguousarray(np.concatenate([half, np.zeros_like(half)], axis=1))
    mirrored = np.ascontiguousarray(lopsided[:, ::-1])
    # the flip template of an image and of its mirror are the same; the plain ones differ
    np.testing.assert_allclose(flip.embed([lopsided]).vectors, flip.embed([mirrored]).vectors, atol=1e-5)
    assert float(plain.embed([lopsided]).vectors[0] @ plain.embed([mirrored]).vectors[0]) < 0.9999


def test_dlib_tta_is_deterministic_mirror_invariant_and_versioned(store) -> None:
    plain = build_embedder("dlib-resnet", store)
    tta = build_embedder("dlib-resnet+tta", store, EmbeddingSettings(batch_size=2))
    assert tta.model_version == plain.model_version + "+tta" and tta.name == "dlib-resnet+tta"
    img = _lfw("Colin_Powell", 1)
    d = build_detector("yunet", store).detect(img)
    k = int(np.argmax(d.scores))
    chip = tta.crops(img, d[k : k + 1])[0]
    mirrored = np.ascontiguousarray(chip[:, ::-1])
    a = tta.embed([chip, mirrored, chip]).vectors
    np.testing.assert_array_equal(a[0], a[2])  # fixed views: no random jitter
    assert float(a[0] @ a[1]) > 0.9999  # every view comes with its mirror
    assert float(a[0] @ plain.embed([chip]).vectors[0]) < 0.9999  # the rotated views count


def test_unknown_recognizer_option_is_a_specific_error(store) -> None:
    with pytest.raises(UnknownComponentError, match=r"unknown recognizer option \+jitter8"):
        build_embedder("dlib-resnet+jitter8", store)


def test_embedding_is_deterministic_and_batched_like_single(store, group) -> None:
    det = build_detector("yunet", store)
    emb = build_embedder("mobilefacenet", store, EmbeddingSettings(batch_size=4))
    d = det.detect(group)
    batch = embed_detections(emb, group, d).vectors
    singles = np.vstack([embed_detections(emb, group, d[i : i + 1]).vectors for i in range(len(d))])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_agency_model_through_a_specs_file(tmp_path) -> None:
    """The generic ONNX ArcFace adapter takes any ArcFace-style file described in TOML (here MobileFaceNet)."""
    from laneface.models import sha256_file

    model = SHARED_MODELS / "mobilefacenet" / "mobilefacenet_foamliu_dynbatch.onnx"
    specs = tmp_path / "specs.toml"
    specs.write_text(
        f"""
[[model]]
name = "agency-arcface"
version = "test-1"
kind = "embedder"
backend = "onnx-arcface"
file = "agency/model.onnx"
sha256 = ["{sha256_file(model)}"]
licence = "agency-internal"
use = "commercial"
input_size = [112, 112]
embedding_dim = 128
alignment = "arcface_112"
preprocessing = {{ color = "RGB", mean = 127.5, std = 127.5 }}
""",
        encoding="utf-8",
    )
    (tmp_path / "models" / "agency").mkdir(parents=True)
    shutil.copy(model, tmp_path / "models" / "agency" / "model.onnx")
    settings = load_settings(models__models_dir=tmp_path / "models", models__specs_file=specs)
    emb = build_embedder("agency-arcface", ModelStore.from_settings(settings))
    assert emb.model_version.startswith("agency-arcface@test-1+")
    crops = [np.full((112, 112, 3), 128, np.uint8)]
    assert emb.embed(crops).vectors.shape == (1, 128)
    with pytest.raises(ValueError, match="112"):
        emb.embed([np.zeros((100, 100, 3), np.uint8)])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("laneface")
    if exe is None:
        pytest.skip("laneface console script not installed")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600, check=False)


def test_cli_detect_reports_faces_and_refuses_bad_images(tmp_path) -> None:
    ok = _cli("--models-dir", str(SHARED_MODELS), "detect", "--json", str(SAMPLES / "group_6_faces.jpg"))
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)[0]["faces"]) == 6
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes((SAMPLES / "group_6_faces.jpg").read_bytes()[:2000])
    res = _cli("detect", str(bad))
    assert res.returncode == 2
    assert res.stderr.startswith("error:") and "truncated.jpg" in res.stderr
    assert "Traceback" not in res.stderr


def _write_pairs(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_eval_lfw_writes_json_and_det_plot_and_counts_fta(tmp_path) -> None:
    import cv2

    lfw = tmp_path / "lfw"
    names = {"George_W_Bush": 4, "Colin_Powell": 4, "Tony_Blair": 4, "Donald_Rumsfeld": 4}
    for name, n in names.items():
        (lfw / name).mkdir(parents=True)
        for i in range(1, n + 1):
            shutil.copy(LFW_DIR / name / f"{name}_{i:04d}.jpg", lfw / name / f"{name}_{i:04d}.jpg")
    # a "person" whose only image has no face: every pair with it is a failure to acquire
    (lfw / "No_Face").mkdir()
    no_face = cv2.imread(str(SAMPLES / "misc" / "no_face.png"))
    cv2.imwrite(str(lfw / "No_Face" / "No_Face_0001.jpg"), no_face)
    mated = ["George_W_Bush 1 2", "Colin_Powell 1 2", "Tony_Blair 1 2", "Donald_Rumsfeld 1 2", "No_Face 1 1"]
    mated2 = ["George_W_Bush 3 4", "Colin_Powell 3 4", "Tony_Blair 3 4", "Donald_Rumsfeld 3 4", "Tony_Blair 1 4"]
    non = [
        "George_W_Bush 1 Colin_Powell 1",
        "Tony_Blair 1 Donald_Rumsfeld 1",
        "George_W_Bush 2 Tony_Blair 2",
        "Colin_Powell 2 Donald_Rumsfeld 2",
        "No_Face 1 George_W_Bush 1",
    ]
    non2 = [
        "George_W_Bush 3 Colin_Powell 3",
        "Tony_Blair 3 Donald_Rumsfeld 3",
        "George_W_Bush 4 Tony_Blair 4",
        "Colin_Powell 4 Donald_Rumsfeld 4",
        "Colin_Powell 3 Tony_Blair 3",
    ]
    pairs = _write_pairs(tmp_path / "pairs.txt", "2\t5", mated + non + mated2 + non2)
    out = tmp_path / "out"
    res = _cli(
        "--models-dir",
        str(SHARED_MODELS),
        "eval",
        "lfw",
        "--lfw-dir",
        str(lfw),
        "--pairs",
        str(pairs),
        "-d",
        "yunet",
        "-e",
        "mobilefacenet",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["pairs"] == 20
    assert summary["fta_images"] == 1
    assert summary["fta_pairs"] == 2
    # the two FTA pairs are errors (one per fold); every other pair is easy
    assert summary["accuracy_mean"] == pytest.approx(0.9, abs=1e-9)
    assert Path(summary["json"]).is_file()
    assert Path(summary["det_plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # two worker processes give the same figures (and the same failure to acquire) as one
    args = ["--models-dir", str(SHARED_MODELS), "eval", "lfw", "--lfw-dir", str(lfw), "--pairs", str(pairs)]
    res = _cli(*args, "-d", "yunet", "-e", "mobilefacenet", "--out", str(tmp_path / "out2"), "--workers", "2")
    assert res.returncode == 0, res.stderr
    parallel = json.loads(res.stdout)
    for key in ("pairs", "fta_images", "fta_pairs", "fold_accuracies", "eer_threshold", "threshold_at_far_1e3"):
        assert parallel[key] == pytest.approx(summary[key], abs=1e-6), key
    fta_files = json.loads(Path(parallel["json"]).read_text())["fta_files"]
    assert [Path(f).name for f in fta_files] == ["No_Face_0001.jpg"]
    # the default stack (dlib, PyPI only) on a one-fold subset
    one = _write_pairs(tmp_path / "one.txt", "1 2", mated[:2] + non[:2])
    res = _cli(
        "--data-dir",
        str(tmp_path / "data"),
        "eval",
        "lfw",
        "--lfw-dir",
        str(lfw),
        "--pairs",
        str(one),
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["detector"] == "dlib-hog" and summary["embedder"] == "dlib-resnet"
    assert summary["accuracy_mean"] == 1.0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_eval_lfw_names_a_corrupt_image_also_from_a_worker_process(tmp_path, workers) -> None:
    lfw = tmp_path / "lfw"
    for name, i in (("George_W_Bush", 1), ("George_W_Bush", 2)):
        (lfw / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(LFW_DIR / name / f"{name}_{i:04d}.jpg", lfw / name)
    (lfw / "George_W_Bush" / "George_W_Bush_0002.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    pairs = _write_pairs(tmp_path / "p.txt", "1 1", ["George_W_Bush 1 2", "George_W_Bush 1 George_W_Bush 2"])
    args = ["--models-dir", str(SHARED_MODELS), "eval", "lfw", "--lfw-dir", str(lfw), "--pairs", str(pairs)]
    res = _cli(*args, "-d", "yunet", "-e", "mobilefacenet", "--out", str(tmp_path / "out"), "--workers", workers)
    assert res.returncode != 0
    assert "George_W_Bush_0002.jpg cannot be read" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()  # no result written from a partial run


def test_cli_eval_lfw_reports_a_malformed_pairs_file(tmp_path) -> None:
    pairs = _write_pairs(tmp_path / "p.txt", "1 1", ["George_W_Bush 1"])
    res = _cli("eval", "lfw", "--lfw-dir", str(LFW_DIR), "--pairs", str(pairs))
    assert res.returncode == 2
    assert "p.txt" in res.stderr and "Traceback" not in res.stderr

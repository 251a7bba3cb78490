"""MTCNN in numpy: layers against naive loops, the three stages on fake weights, weight files, the factory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from laneface.detection import mtcnn as m
from laneface.detection.factory import DETECTORS, build_detector
from laneface.errors import ChecksumError, ModelError, ModelNotFoundError
from laneface.models import BUILTIN_SPECS, ModelStore


def _naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    kh, kw, _, cout = w.shape
    n, h, wd, _ = x.shape
    out = np.zeros((n, h - kh + 1, wd - kw + 1, cout))
    for i in range(h - kh + 1):
        for j in range(wd - kw + 1):
            out[:, i, j] = np.einsum("nhwc,hwco->no", x[:, i : i + kh, j : j + kw], w) + b
    return out


def test_conv_matches_a_naive_convolution(rng: np.random.Generator) -> None:
    x = rng.normal(size=(2, 7, 9, 3)).astype(np.float32)
    w = rng.normal(size=(3, 2, 3, 5)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    np.testing.assert_allclose(m._conv(x, w, b), _naive_conv(x, w, b), rtol=1e-4, atol=1e-4)


def test_conv_on_an_input_smaller_than_the_kernel_is_empty() -> None:
    out = m._conv(np.zeros((1, 2, 5, 3), np.float32), np.zeros((3, 3, 3, 4), np.float32), np.zeros(4, np.float32))
    assert out.shape == (1, 0, 3, 4)


@pytest.mark.parametrize(
    ("k", "s", "padding", "size", "expected"),
    [(2, 2, "same", 7, 4), (3, 2, "same", 7, 4), (3, 2, "valid", 7, 3), (2, 2, "same", 8, 4)],
)
def test_maxpool_follows_tensorflow_padding(k: int, s: int, padding: str, size: int, expected: int) -> None:
    x = np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1)
    out = m._maxpool(x, k, s, padding)  # type: ignore[arg-type]
    assert out.shape == (1, expected, expected, 1)
    # values increase along rows and columns: each output is its window's bottom-right element inside the image
    pad = max(0, (expected - 1) * s + k - size) // 2 if padding == "same" else 0
    for i in range(expected):
        r = min(size - 1, i * s - pad + k - 1)
        c = min(size - 1, i * s - pad + k - 1)
        assert out[0, i, i, 0] == x[0, r, c, 0]


def test_dense_input_is_flattened_column_major() -> None:
    x = np.arange(2 * 3 * 1, dtype=np.float32).reshape(1, 2, 3, 1)  # rows [0 1 2], [3 4 5]
    assert m._dense_input(x).tolist() == [[0, 3, 1, 4, 2, 5]]


def test_nms_union_and_min() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 4, 4], [50, 50, 60, 60]], dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert m._nms(boxes, scores, 0.5, "union").tolist() == [0, 2, 3]  # the small box inside overlaps little
    assert m._nms(boxes, scores, 0.5, "min").tolist() == [0, 3]  # ... but lies wholly inside the first


# --------------------------------------------------------------------------- the stages on fake weights

LANDMARKS_REL = [0.3, 0.7, 0.5, 0.35, 0.65, 0.4, 0.4, 0.6, 0.8, 0.8]  # five x, then five y, in the crop


def _zeros(shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    return [np.zeros(s, np.float32) for s in shapes]


def fake_weights(face_logit: float = 5.0) -> list[list[np.ndarray]]:
    """Networks whose every window is a face with probability sigmoid(face_logit), offsets zero, and (O-Net)
    fixed landmarks: the pipeline's geometry can be checked exactly."""
    p = _zeros([(3, 3, 3, 10), (10,), (1, 1, 10), (3, 3, 10, 16), (16,), (1, 1, 16), (3, 3, 16, 32), (32,),
                (1, 1, 32), (1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)])  # fmt: skip
    p[12][:] = [0.0, face_logit]
    r = _zeros([(3, 3, 3, 28), (28,), (1, 1, 28), (3, 3, 28, 48), (48,), (1, 1, 48), (2, 2, 48, 64), (64,),
                (1, 1, 64), (576, 128), (128,), (128,), (128, 4), (4,), (128, 2), (2,)])  # fmt: skip
    r[15][:] = [0.0, face_logit]
    o = _zeros([(3, 3, 3, 32), (32,), (1, 1, 32), (3, 3, 32, 64), (64,), (1, 1, 64), (3, 3, 64, 64), (64,),
                (1, 1, 64), (2, 2, 64, 128), (128,), (1, 1, 128), (1152, 256), (256,), (256,), (256, 4), (4,),
                (256, 10), (10,), (256, 2), (2,)])  # fmt: skip
    o[18][:] = LANDMARKS_REL
    o[20][:] = [0.0, face_logit]
    return [p, r, o]


def test_network_output_shapes(rng: np.random.Generator) -> None:
    p, r, o = fake_weights()
    reg, prob = m.pnet(rng.normal(size=(1, 30, 40, 3)).astype(np.float32), p)
    assert reg.shape == (1, 10, 15, 4) and prob.shape == (1, 10, 15)
    reg, prob = m.rnet(np.zeros((3, 24, 24, 3), np.float32), r)
    assert reg.shape == (3, 4) and prob.shape == (3,)
    reg, lm, prob = m.onet(np.zeros((2, 48, 48, 3), np.float32), o)
    assert reg.shape == (2, 4) and lm.shape == (2, 10) and prob.shape == (2,)
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-5.0)), rtol=1e-5)


def test_pyramid_starts_at_min_face_and_stops_at_the_window() -> None:
    det = m.MtcnnDetector(fake_weights(), min_face_px=24)
    scales = det.scales(200, 100)
    assert scales[0] == pytest.approx(0.5)
    assert np.allclose(np.diff(np.log(scales)), np.log(0.709))
    assert 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709
    assert m.MtcnnDetector(fake_weights(), min_face_px=8).scales(200, 100)[0] == pytest.approx(1.5)  # upsampled


def test_detections_carry_the_onet_landmarks_in_canonical_order() -> None:
    image = np.full((60, 80, 3), 128, np.uint8)
    det = m.MtcnnDetector(fake_weights(), min_face_px=40, score_threshold=0.9, name="mtcnn-fake")
    found = det.detect(image)
    assert found.detector == "mtcnn-fake"
    assert len(found) >= 1
    assert ((found.boxes_xyxy >= 0) & (found.boxes_xyxy <= [80, 60, 80, 60])).all()
    np.testing.assert_allclose(found.scores, 1 / (1 + np.exp(-5.0)), rtol=1e-5)
    for lm in found.landmarks_xy:
        assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]
        assert lm[:2, 1].mean() < lm[2, 1] < lm[3:, 1].mean()
        # the O-Net crop was square; its landmarks sit at the fixed relative places (up to the 1 px convention)
        side = lm[1, 0] - lm[0, 0]
        assert side > 0
        assert abs((lm[2, 0] - lm[0, 0]) / side - 0.5) < 0.05
    # boxes that overlap mostly were merged: no two kept boxes share more than 70 % of the smaller
    b = found.boxes_xyxy.astype(np.float64)
    assert len(m._nms(b, found.scores.astype(np.float64), 0.7, "min")) == len(found)


def test_threshold_above_every_score_gives_no_detection() -> None:
    found = m.MtcnnDetector(fake_weights(), min_face_px=40, score_threshold=0.999).detect(
        np.zeros((50, 50, 3), np.uint8)
    )
    assert len(found) == 0
    assert found.detector == "mtcnn"


def test_no_proposal_gives_no_detection() -> None:
    det = m.MtcnnDetector(fake_weights(face_logit=-5.0), min_face_px=20)
    assert len(det.detect(np.zeros((40, 40, 3), np.uint8))) == 0
    assert len(det.detect(np.zeros((8, 8, 3), np.uint8))) == 0  # smaller than the window: no scale at all


def test_bad_input_and_bad_options_are_refused() -> None:
    det = m.MtcnnDetector(fake_weights())
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((20, 20, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="P-Net"):
        m.MtcnnDetector(fake_weights()[:2])
    with pytest.raises(ValueError, match="min_face_px"):
        m.MtcnnDetector(fake_weights(), min_face_px=2)


# --------------------------------------------------------------------------- weight files, specs, factory


def test_weight_files_are_checked(tmp_path: Path) -> None:
    import joblib

    good = tmp_path / "p.lz4"
    joblib.dump(fake_weights()[0], good, compress="lz4")
    assert len(m.load_mtcnn_weights(good, "pnet")) == 13
    with pytest.raises(ModelError, match="not MTCNN rnet"):
        m.load_mtcnn_weights(good, "rnet")
    junk = tmp_path / "junk.lz4"
    junk.write_bytes(b"not a joblib file")
    with pytest.raises(ModelError, match="cannot read"):
        m.load_mtcnn_weights(junk, "pnet")


def test_specs_name_the_package_files() -> None:
    specs = {s.name: s for s in BUILTIN_SPECS if s.backend == "mtcnn"}
    assert set(specs) == {"mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"}
    for net in ("pnet", "rnet", "onet"):
        s = specs[f"mtcnn-{net}"]
        assert (s.package, s.package_file, s.use, s.licence) == (
            "mtcnn",
            f"assets/weights/{net}.lz4",
            "commercial",
            "MIT",
        )
    assert DETECTORS["mtcnn"][0] == "mtcnn-onet"


def test_factory_builds_mtcnn_from_verified_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import joblib

    from laneface.config import DetectionSettings
    from laneface.models import ModelSpec, sha256_file

    specs = []
    for net, w in zip(("pnet", "rnet", "onet"), fake_weights(), strict=True):
        path = tmp_path / "mtcnn" / f"{net}.lz4"
        path.parent.mkdir(exist_ok=True)
        joblib.dump(w, path, compress="lz4")
        specs.append(
            ModelSpec(
                name=f"mtcnn-{net}",
                version="t",
                kind="detector",
                backend="mtcnn",
                file=f"mtcnn/{net}.lz4",
                sha256=(sha256_file(path),),
                licence="MIT",
                use="commercial",
            )
        )
    store = ModelStore([tmp_path], tuple(specs))
    det = build_detector("mtcnn", store, DetectionSettings(min_face_px=40, score_threshold=0.9))
    assert isinstance(det, m.MtcnnDetector)
    assert det.name == "mtcnn"
    assert len(det.detect(np.full((60, 60, 3), 100, np.uint8))) >= 1
    assert (
        len(
            build_detector("mtcnn", store, DetectionSettings(score_threshold=0.999)).detect(
                np.zeros((60, 60, 3), np.uint8)
            )
        )
        == 0
    )
    (tmp_path / "mtcnn" / "rnet.lz4").write_bytes(b"tampered")
    with pytest.raises(ChecksumError):
        build_detector("mtcnn", ModelStore([tmp_path], tuple(specs)))
    with pytest.raises(ModelNotFoundError):
        build_detector("mtcnn", ModelStore([tmp_path / "empty"], tuple(specs)))

"""RetinaFace and SCRFD onnxruntime backends on the shared sample images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from laneface.detection.base import FaceDetector
from laneface.detection.retinaface import RetinaFaceDetector
from laneface.detection.scrfd import ScrfdDetector
from laneface.errors import ConfigError
from laneface.types import FaceDetections

pytestmark = [pytest.mark.models, pytest.mark.shared]

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
SAMPLES = SHARED / "data" / "samples"

if not MODELS.is_dir():
    pytest.skip(f"shared models not found at {MODELS}", allow_module_level=True)

RETINAFACE = MODELS / "retinaface" / "retinaface_mnet025_640.onnx"
SCRFD_25G = MODELS / "scrfd" / "scrfd_2.5g_bnkps.onnx"
SCRFD_500M = MODELS / "scrfd" / "scrfd_500m_kps_hpc203.onnx"

FACTORIES: dict[str, Callable[[], FaceDetector]] = {
    "retinaface": lambda: RetinaFaceDetector(RETINAFACE),
    "scrfd_2.5g": lambda: ScrfdDetector(SCRFD_25G, name="scrfd_2.5g"),
    "scrfd_500m": lambda: ScrfdDetector(SCRFD_500M, name="scrfd_500m"),
}


def _load_rgb(path: Path) -> npt.NDArray[np.uint8]:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.fixture(scope="module")
def group_rgb() -> npt.NDArray[np.uint8]:
    return _load_rgb(SAMPLES / "group_6_faces.jpg")


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def detector(request: pytest.FixtureRequest) -> FaceDetector:
    return FACTORIES[request.param]()


def _assert_landmarks_sane(dets: FaceDetections) -> None:
    for box, lm in zip(dets.boxes_xyxy, dets.landmarks_xy, strict=True):
        eye_l, eye_r, nose, mouth_l, mouth_r = lm
        assert eye_l[0] < eye_r[0], lm
        assert mouth_l[0] < mouth_r[0], lm
        assert min(eye_l[0], eye_r[0]) < nose[0] < max(eye_l[0], eye_r[0]), lm
        assert max(eye_l[1], eye_r[1]) < nose[1] < min(mouth_l[1], mouth_r[1]), lm
        assert (lm >= box[:2]).all(), (box, lm)
        assert (lm <= box[2:]).all(), (box, lm)


def _match(reference: npt.NDArray[np.float32], candidate: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """For each reference box, the candidate box with the nearest centre."""
    ref_c = (reference[:, :2] + reference[:, 2:]) / 2
    cand_c = (candidate[:, :2] + candidate[:, 2:]) / 2
    dist = np.linalg.norm(ref_c[:, None, :] - cand_c[None, :, :], axis=2)
    return np.asarray(candidate[dist.argmin(axis=1)], np.float32)


def test_is_face_detector(detector: FaceDetector) -> None:
    assert isinstance(detector, FaceDetector)
    assert detector.name


def test_group_photo_six_faces(detector: FaceDetector, group_rgb: npt.NDArray[np.uint8]) -> None:
    dets = detector.detect(group_rgb)
    h, w = group_rgb.shape[:2]
    assert len(dets) == 6
    assert dets.detector == detector.name
    assert dets.scores.dtype == np.float32
    assert (dets.scores >= 0.5).all()
    boxes = dets.boxes_xyxy
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, 2:] <= np.array([w, h], np.float32)).all()
    assert (boxes[:, 2:] > boxes[:, :2]).all()
    # faces in this photo are roughly 90-150 px tall
    heights = boxes[:, 3] - boxes[:, 1]
    assert ((heights > 80) & (heights < 200)).all(), heights
    _assert_landmarks_sane(dets)


def test_no_face(detector: FaceDetector) -> None:
    dets = detector.detect(_load_rgb(SAMPLES / "misc" / "no_face.png"))
    assert len(dets) == 0
    assert dets.boxes_xyxy.shape == (0, 4)
    assert dets.landmarks_xy.shape == (0, 5, 2)


# Aspect-preserving copies land on (almost) the same network input: boxes scale to within ~1 px. The
# 960x540 copy is squashed vertically, so the faces change shape and the detector re-estimates boxes.
@pytest.mark.parametrize(
    ("sx", "sy", "tol_px", "tol_rel"),
    [(0.5, 0.5, 2.0, 0.0), (0.3, 0.3, 2.0, 0.0), (1.5, 1.5, 2.0, 0.0), (0.75, 540 / 886, 4.0, 0.12)],
)
def test_letterbox_boxes_follow_scaling(
    detector: FaceDetector, group_rgb: npt.NDArray[np.uint8], sx: float, sy: float, tol_px: float, tol_rel: float
) -> None:
    h, w = group_rgb.shape[:2]
    nw, nh = round(w * sx), round(h * sy)
    interp = cv2.INTER_AREA if sx < 1 else cv2.INTER_LINEAR
    scaled = np.asarray(cv2.resize(group_rgb, (nw, nh), interpolation=interp), np.uint8)
    ref = detector.detect(group_rgb)
    got = detector.detect(scaled)
    assert len(got) == len(ref) == 6
    expected = ref.boxes_xyxy * np.array([nw / w, nh / h, nw / w, nh / h], np.float32)
    matched = _match(expected, got.boxes_xyxy)
    sizes = np.maximum(expected[:, 2] - expected[:, 0], expected[:, 3] - expected[:, 1])
    tol = np.maximum(tol_px, tol_rel * sizes)[:, None]
    assert (np.abs(matched - expected) <= tol).all(), (matched, expected)


def test_padding_does_not_move_boxes(detector: FaceDetector, group_rgb: npt.NDArray[np.uint8]) -> None:
    h, w = group_rgb.shape[:2]
    tall = np.zeros((h * 2, w, 3), np.uint8)  # a non-square image letterboxed the other way
    tall[:h] = group_rgb
    ref = detector.detect(group_rgb)
    got = detector.detect(tall)
    assert len(got) == 6
    # the image now occupies half the network input: allow a little more slack
    sizes = (ref.boxes_xyxy[:, 2:] - ref.boxes_xyxy[:, :2]).max(axis=1)
    tol = np.maximum(4.0, 0.1 * sizes)[:, None]
    assert (np.abs(_match(ref.boxes_xyxy, got.boxes_xyxy) - ref.boxes_xyxy) <= tol).all()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
    ],
)
def test_rejects_bad_input(detector: FaceDetector, bad: npt.NDArray[np.uint8]) -> None:
    with pytest.raises(ValueError, match="image"):
        detector.detect(bad)


def test_scrfd_dynamic_input_size(group_rgb: npt.NDArray[np.uint8]) -> None:
    det = ScrfdDetector(SCRFD_25G, input_size=(960, 544))
    dets = det.detect(group_rgb)
    assert len(dets) == 6
    _assert_landmarks_sane(dets)


@pytest.mark.parametrize(
    ("path", "size"),
    [(SCRFD_500M, (320, 320)), (SCRFD_25G, (650, 640)), (RETINAFACE, (320, 320))],
)
def test_bad_input_size(path: Path, size: tuple[int, int]) -> None:
    factory = RetinaFaceDetector if path == RETINAFACE else ScrfdDetector
    with pytest.raises(ConfigError):
        factory(path, input_size=size)

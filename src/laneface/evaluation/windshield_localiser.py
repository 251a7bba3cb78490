"""Windshield localisation without labels at run time, for `laneface bench windshield --regions localised`.

A HOG sliding-window detector (dlib's structural SVM trainer, ``train_simple_object_detector``) is trained
at bench time on the labelled boxes of a TRAINING split of the frames and then run on every frame; the
labels are used only to train it and to score it. Nothing learned is shipped: the parameters are computed
from the training split (about half a CPU minute) and may be cached in a file outside the repository.

Splitting: the frames are Roboflow exports, so one camera frame appears several times (rotated, greyscale,
brightness copies, ``<stem>_jpg.rf.<hash>.jpg``), and consecutive frame numbers of one camera often show the
same vehicle. :func:`source_groups` therefore groups frames by their original stem and chains stems that
are close in time (numeric ids within ``id_gap``, ``HH-MM-SS`` names within ``seconds_gap``); a whole group
goes to the test split when a hash of its first stem falls below ``test_share``.

Detection: the frame is shrunk by ``scale`` (windshields are 100-300 px wide in 640 px frames, far larger than
the HOG window), searched with one pyramid up-sampling, and every candidate scoring at least ``min_score`` is
kept, plus the best candidate of the frame whatever its score (a lane camera is triggered by a vehicle).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.errors import ConfigError, InvalidDatasetError

__all__ = [
    "HogWindshieldLocaliser",
    "LocaliserRecall",
    "box_iou",
    "localiser_recall",
    "original_stem",
    "source_groups",
    "split_frames",
    "trained_localiser",
]

_RF = re.compile(r"_(?:jpe?g|png|bmp)\.rf\.[0-9a-f]+$", re.IGNORECASE)
_CLOCK = re.compile(r"^(\d{2})-(\d{2})-(\d{2})$")


def original_stem(file_stem: str) -> str:
    """The camera frame's own name: ``1625227980797_jpg.rf.2ab..`` -> ``1625227980797``."""
    return _RF.sub("", file_stem)


def _time_key(stem: str) -> tuple[str, int] | None:
    """(family, position on its time line) for numeric ids and HH-MM-SS names; None for others."""
    if stem.isdigit():
        return ("id", int(stem))
    m = _CLOCK.match(stem)
    if m:
        return ("clock", int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)))
    return None


def source_groups(stems: Sequence[str], *, id_gap: int = 2, seconds_gap: int = 60) -> dict[str, str]:
    """Original stem -> group name (the first stem of its chain); see the module docstring."""
    keyed: dict[str, list[tuple[int, str]]] = {}
    groups: dict[str, str] = {}
    for stem in sorted(set(stems)):
        key = _time_key(stem)
        if key is None:
            groups[stem] = stem
        else:
            keyed.setdefault(key[0], []).append((key[1], stem))
    gaps = {"id": id_gap, "clock": seconds_gap}
    for family, items in keyed.items():
        items.sort()
        head, last = items[0][1], items[0][0]
        for pos, stem in items:
            if pos - last > gaps[family]:
                head = stem
            groups[stem] = head
            last = pos
    return groups


def _in_test(group: str, test_share: float) -> bool:
    digest = hashlib.sha256(group.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < test_share


def split_frames(frames: Sequence[Any], test_share: float = 0.3) -> tuple[list[Any], list[Any]]:
    """(train, test): frames (anything with an ``image_path``) split by source group, deterministic."""
    if not 0.0 < test_share < 1.0:
        raise ConfigError(f"test_share must lie in (0, 1), got {test_share}")
    stems = [original_stem(Path(f.image_path).stem) for f in frames]
    groups = source_groups(stems)
    train: list[Any] = []
    test: list[Any] = []
    for frame, stem in zip(frames, stems, strict=True):
        (test if _in_test(groups[stem], test_share) else train).append(frame)
    return train, test


def box_iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """IoU matrix (len(a), len(b)) of xyxy boxes."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.asarray(np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0), dtype=np.float32)


@dataclass(frozen=True)
class LocaliserRecall:
    """Labelled windshields matched by a localised box with IoU >= ``iou``; ``boxes`` = localised boxes."""

    windshields: int
    matched: int
    boxes: int
    frames: int
    iou: float

    @property
    def recall(self) -> float:
        return self.matched / self.windshields if self.windshields else 0.0


def localiser_recall(
    labelled: Sequence[npt.NDArray[np.float32]], localised: Sequence[npt.NDArray[np.float32]], iou: float = 0.5
) -> LocaliserRecall:
    """Recall of ``localised`` boxes against ``labelled`` ones, frame by frame (parallel lists)."""
    if len(labelled) != len(localised):
        raise ValueError("labelled and localised must have one entry per frame")
    total = matched = boxes = 0
    for lab, loc in zip(labelled, localised, strict=True):
        total += len(lab)
        boxes += len(loc)
        if len(lab) and len(loc):
            matched += int((box_iou(lab, loc).max(axis=1) >= iou).sum())
    return LocaliserRecall(total, matched, boxes, len(labelled), iou)


class HogWindshieldLocaliser:
    """Windshield boxes (pixel xyxy) in a frame from a dlib HOG detector trained on labelled frames."""

    def __init__(self, detector: Any, *, scale: float = 0.5, upsample: int = 1, min_score: float = -0.5) -> None:
        if not 0.05 <= scale <= 4.0:
            raise ConfigError(f"scale must lie in [0.05, 4], got {scale}")
        self._detector = detector
        self.scale = scale
        self.upsample = upsample
        self.min_score = min_score

    @classmethod
    def train(
        cls,
        images: Sequence[npt.NDArray[np.uint8]],
        boxes: Sequence[npt.NDArray[np.float32]],
        *,
        scale: float = 0.5,
        window_area: int = 3000,
        c: float = 10.0,
        aspect_range: tuple[float, float] = (1.1, 2.2),
        min_score: float = -0.5,
    ) -> HogWindshieldLocaliser:
        """Train on ``images`` (RGB) and their windshield ``boxes`` (pixel xyxy), one thread.

        A frame with a box whose width/height lies outside ``aspect_range`` is left out: one HOG window
        cannot match it (rotated copies), and leaving its box out would teach the window it is background.
        Raises InvalidDatasetError when no frame is left.
        """
        import cv2
        import dlib

        if len(images) != len(boxes):
            raise ValueError("images and boxes must be parallel lists")
        train_images: list[npt.NDArray[np.uint8]] = []
        train_boxes: list[list[Any]] = []
        for image, b in zip(images, boxes, strict=True):
            b = np.asarray(b, np.float32).reshape(-1, 4)
            if len(b) == 0:
                continue
            aspect = (b[:, 2] - b[:, 0]) / np.maximum(b[:, 3] - b[:, 1], 1e-6)
            if (aspect < aspect_range[0]).any() or (aspect > aspect_range[1]).any():
                continue
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            train_images.append(np.ascontiguousarray(small))
            train_boxes.append([dlib.rectangle(*(int(v * scale + 0.5) for v in row)) for row in b])
        if not train_images:
            raise InvalidDatasetError("no training frame with a windshield box of a usable aspect ratio")
        options = dlib.simple_object_detector_training_options()
        options.num_threads = 1
        options.C = c
        options.detection_window_size = window_area
        options.add_left_right_image_flips = True
        options.be_verbose = False
        trained = dlib.train_simple_object_detector(train_images, train_boxes, options)
        # the trained object offers no scores; a saved and reloaded fhog_object_detector does
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "windshield.svm"
            trained.save(str(path))
            detector = dlib.fhog_object_detector(str(path))
        return cls(detector, scale=scale, min_score=min_score)

    @classmethod
    def load(cls, path: Path, *, scale: float = 0.5, min_score: float = -0.5) -> HogWindshieldLocaliser:
        import dlib

        if not path.is_file():
            raise InvalidDatasetError(f"windshield localiser file {path} does not exist")
        return cls(dlib.fhog_object_detector(str(path)), scale=scale, min_score=min_score)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._detector.save(str(path))

    def __call__(self, image_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The boxes of :meth:`locate` (a ``Localise`` callable for the bench)."""
        return self.locate(image_rgb)[0]

    def locate(self, image_rgb: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """(boxes (N, 4) pixel xyxy clipped to the image, scores (N,)), best first; see the module docstring."""
        import cv2

        h, w = image_rgb.shape[:2]
        small = cv2.resize(image_rgb, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), self.upsample, min(self.min_score, -1.5))
        if not len(rects):
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        s = np.asarray(scores, np.float32)
        b = np.asarray([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], np.float32) / self.scale
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
        order = np.argsort(-s)
        keep = [int(i) for k, i in enumerate(order) if k == 0 or s[i] >= self.min_score]
        return b[keep], s[keep]


def trained_localiser(
    train: Sequence[Any], cache: Path | None = None, *, progress: Callable[[str], None] | None = None
) -> HogWindshieldLocaliser:
    """The localiser loaded from ``cache`` when that file exists, else trained on the labelled ``train``
    frames (:class:`~laneface.evaluation.bench_windshield.WindshieldFrame`) and saved to ``cache`` if given."""
    from laneface.evaluation.bench_windshield import parse_yolo_labels
    from laneface.imageio import read_image

    if cache is not None and cache.is_file():
        return HogWindshieldLocaliser.load(cache)
    images: list[npt.NDArray[np.uint8]] = []
    boxes: list[npt.NDArray[np.float32]] = []
    for frame in train:
        image = read_image(frame.image_path)
        images.append(image)
        boxes.append(parse_yolo_labels(frame.label_path, image.shape[1], image.shape[0]))
    if progress is not None:
        progress(f"training the windshield localiser on {len(images)} frames")
    localiser = HogWindshieldLocaliser.train(images, boxes)
    if cache is not None:
        localiser.save(cache)
    return localiser

"""Frames of one camera: the :class:`Frame` value and the :class:`FrameSource` protocol with two readers,
a video file (anything OpenCV decodes) and a folder of frame images (sorted by name).

A source opens lazily: constructing one checks only that the path exists; :meth:`FrameSource.frames`
decodes. A video that cannot be opened, or that yields no frame at all, raises
:class:`~laneface.errors.InvalidVideoError`, and so does a folder without images or with an unreadable one.
A video that ends far short of the frame count its container declares (:func:`truncated`: bytes overwritten
or cut off) raises :class:`~laneface.errors.TruncatedVideoError` once its decodable frames were read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from laneface.errors import InvalidImageError, InvalidVideoError, TruncatedVideoError
from laneface.imageio import ImageLimits, read_image

__all__ = [
    "IMAGE_SUFFIXES",
    "MIN_DECLARED_FRAMES",
    "MIN_DECODED_SHARE",
    "Frame",
    "FrameFolderSource",
    "FrameSource",
    "VideoFileSource",
    "open_frame_source",
    "truncated",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
# a video decoding under this share of the frames its container declares is corrupt, not short: the count of
# an intact file is exact, and a stream's (0 or a guess) is only trusted from MIN_DECLARED_FRAMES on
MIN_DECODED_SHARE = 0.5
MIN_DECLARED_FRAMES = 8


def truncated(decoded: int, declared: int) -> bool:
    """True when ``decoded`` frames are far fewer than the ``declared`` ones (the one rule, see above)."""
    return declared >= MIN_DECLARED_FRAMES and decoded < MIN_DECODED_SHARE * declared


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame of one camera.

    ``index`` counts every frame of the camera from 0 (also the ones a stride skipped), ``timestamp_s``
    is ``index / fps`` (seconds since the passage's first frame), ``image_rgb`` is read-only uint8
    ``(H, W, 3)`` RGB.
    """

    camera: str
    index: int
    timestamp_s: float
    image_rgb: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        img = self.image_rgb
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("Frame.image_rgb must be a (H, W, 3) uint8 array")
        if img.flags.writeable:
            img = img.view()
            img.setflags(write=False)
            object.__setattr__(self, "image_rgb", img)

    @property
    def size_wh(self) -> tuple[int, int]:
        return int(self.image_rgb.shape[1]), int(self.image_rgb.shape[0])


@runtime_checkable
class FrameSource(Protocol):
    """The frames of one camera, in order. ``frames(stride)`` yields every ``stride``-th frame (index 0,
    stride, 2*stride, ...); skipped frames are not converted to RGB. ``frames_seen`` counts the frames
    read so far, skipped ones included (after a full iteration: the length of the video)."""

    camera: str
    fps: float
    frames_seen: int

    def frames(self, stride: int = 1) -> Iterator[Frame]: ...


def _check_stride(stride: int) -> int:
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return stride


class VideoFileSource:
    """A video file decoded by OpenCV (``cv2.VideoCapture``); BGR frames are converted to RGB."""

    def __init__(self, path: Path, camera: str, fps: float) -> None:
        if not path.is_file():
            raise InvalidVideoError(f"{path}: video file of camera {camera!r} not found")
        if path.stat().st_size == 0:
            raise InvalidVideoError(f"{path}: video file of camera {camera!r} is empty (0 bytes)")
        self.path = path
        self.camera = camera
        self.fps = float(fps)
        self.frames_seen = 0

    @property
    def frame_count(self) -> int | None:
        """The frame count the video declares (``None`` when it declares none); may exceed what decodes."""
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            declared = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)) if cap.isOpened() else 0
        finally:
            cap.release()
        return declared or None

    def frames(self, stride: int = 1) -> Iterator[Frame]:
        import cv2

        stride = _check_stride(stride)
        try:
            yield from self._frames(cv2, stride)
        except cv2.error as exc:
            raise InvalidVideoError(f"{self.path}: camera {self.camera!r}: cannot be decoded ({exc})") from exc

    def _frames(self, cv2: Any, stride: int) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise InvalidVideoError(f"{self.path}: camera {self.camera!r}: not a video OpenCV can decode")
            declared = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0))
            index = 0
            while True:
                if index % stride:
                    if not cap.grab():
                        break
                else:
                    ok, bgr = cap.read()
                    if not ok or bgr is None:
                        break
                    if bgr.ndim == 2:
                        rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
                    else:
                        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    yield Frame(self.camera, index, index / self.fps, np.ascontiguousarray(rgb, dtype=np.uint8))
                index += 1
                self.frames_seen = index
            if index == 0:
                raise InvalidVideoError(f"{self.path}: camera {self.camera!r}: the video has no decodable frame")
            if truncated(index, declared):
                raise TruncatedVideoError(
                    f"{self.path}: camera {self.camera!r}: {index} of the {declared} frames the video declares "
                    "could be decoded (corrupt or cut off)",
                    camera=self.camera,
                    decoded=index,
                    declared=declared,
                )
        finally:
            cap.release()


class FrameFolderSource:
    """A folder of frame images (JPEG, PNG, ...), in file-name order; other files are ignored."""

    def __init__(self, path: Path, camera: str, fps: float, limits: ImageLimits | None = None) -> None:
        if not path.is_dir():
            raise InvalidVideoError(f"{path}: frame folder of camera {camera!r} not found")
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InvalidVideoError(f"{path}: frame folder of camera {camera!r} holds no image")
        self.path = path
        self.files = tuple(files)
        self.camera = camera
        self.fps = float(fps)
        self.limits = limits or ImageLimits()
        self.frames_seen = 0

    @property
    def frame_count(self) -> int:
        """The number of frame images in the folder."""
        return len(self.files)

    def frames(self, stride: int = 1) -> Iterator[Frame]:
        stride = _check_stride(stride)
        for index in range(0, len(self.files), stride):
            try:
                image = read_image(self.files[index], limits=self.limits)
            except InvalidImageError as exc:
                raise InvalidVideoError(f"camera {self.camera!r}: frame {index}: {exc}") from exc
            self.frames_seen = min(len(self.files), index + stride)
            yield Frame(self.camera, index, index / self.fps, image)


def open_frame_source(path: Path, camera: str, fps: float) -> FrameSource:
    """A frame folder when ``path`` is a directory, else a video file."""
    if path.is_dir():
        return FrameFolderSource(path, camera, fps)
    return VideoFileSource(path, camera, fps)

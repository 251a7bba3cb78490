"""Deterministic test-time augmentation of aligned face crops.

A recognizer option (``-e dlib-resnet+flip``, ``-e dlib-resnet+tta``) embeds several fixed views of each
aligned crop and sums the descriptors before normalising. The views are fixed (no random jitter), so the same
crop always gives the same template; the option is appended to the model version, so templates of different
options are never compared.

- ``flip``: the crop and its mirror image (2 views).
- ``tta``: the crop and its mirror image, each as it is and rotated by 3 degrees counter-clockwise (4 views).
  The set is closed under mirroring, so a face and its mirror image get the same template. Rotations of this
  size are those of dlib's own random jitter (``compute_face_descriptor(..., num_jitters)``), without its
  randomness. Chosen on LFW among rotation, shift and scale sets (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from laneface.errors import UnknownComponentError

__all__ = ["AUGMENTATIONS", "ChipView", "augmentation", "option_of", "suffix", "view", "views"]


@dataclass(frozen=True, slots=True)
class ChipView:
    """One view of an aligned crop: rotation (degrees, counter-clockwise) about the centre, then mirroring.

    Mirroring the input turns view ``(a, m)`` into view ``(-a, not m)`` of the original crop.
    """

    angle_deg: float = 0.0
    mirror: bool = False


#: Option name -> the views whose descriptors are summed. The empty name is the plain crop.
AUGMENTATIONS: dict[str, tuple[ChipView, ...]] = {
    "": (ChipView(),),
    "flip": (ChipView(), ChipView(mirror=True)),
    # crop, its mirror, the crop rotated by +3 degrees, the mirror rotated by +3 degrees (= view (-3, mirror))
    "tta": (ChipView(), ChipView(mirror=True), ChipView(3.0), ChipView(-3.0, mirror=True)),
}


def augmentation(option: str) -> tuple[ChipView, ...]:
    """The views of a recognizer option; an unknown option is an UnknownComponentError naming the known ones."""
    try:
        return AUGMENTATIONS[option]
    except KeyError:
        known = ", ".join(f"+{k}" for k in AUGMENTATIONS if k)
        raise UnknownComponentError(f"unknown recognizer option +{option}; options: {known}") from None


def suffix(option: str) -> str:
    """What an option appends to a recognizer's name and model version (``+tta``; nothing for the plain crop)."""
    return f"+{option}" if option else ""


def option_of(model_version: str) -> str:
    """The option a model version (``name@version+sha256[:12]`` then :func:`suffix`) was made with, or ``""``."""
    if model_version.count("+") < 2:
        return ""
    last = model_version.rsplit("+", 1)[1]
    return last if last in AUGMENTATIONS else ""


def view(crop_rgb: npt.NDArray[np.uint8], v: ChipView) -> npt.NDArray[np.uint8]:
    """The crop as ``v`` sees it (same shape and dtype, C-contiguous). Borders are filled by reflection."""
    out: npt.NDArray[np.generic] = crop_rgb
    if v.angle_deg:
        import cv2

        h, w = crop_rgb.shape[:2]
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(v.angle_deg), 1.0)
        out = cv2.warpAffine(crop_rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if v.mirror:
        out = out[:, ::-1]
    return np.ascontiguousarray(out, dtype=np.uint8)


def views(crops_rgb: Sequence[npt.NDArray[np.uint8]], vs: Sequence[ChipView]) -> list[list[npt.NDArray[np.uint8]]]:
    """For each view, the list of all crops as seen by it (one list per view, same order as ``crops_rgb``)."""
    return [[view(c, v) for c in crops_rgb] for v in vs]

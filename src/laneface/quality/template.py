"""The quality crop: a 128x128 aligned face with forehead and chin, and the regions measured in it.

The template's 5 points are the mean YuNet landmark layout on LFW (deep-funneled; 300 faces, normalised by
a similarity transform, then made left-right symmetric), scaled to an inter-eye distance of 32 px with the
eyes 50 px from the top. Relative to the eye distance ``D``: nose tip 0.56 D below the eye line, mouth
corners 1.00 D below it and 0.85 D apart. With this margin the crop holds the forehead (about 1.2 D above
the eyes) and the chin. Because every face is warped to the same scale, measures taken on the crop
(sharpness, contrast) are scale-normalised: a face smaller than the template scale is upsampled and shows
correspondingly less detail.

Regions are ``(y0, y1, x0, x1)`` in crop pixels (numpy slices ``[y0:y1, x0:x1]``) for a face of mean layout;
"left"/"right" are the image's left and right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from laneface.alignment import AlignmentTemplate, align_face

__all__ = [
    "CHEEKS_UNDER_EYES",
    "EYE_LEFT",
    "EYE_RIGHT",
    "INNER_FACE",
    "MOUTH",
    "QUALITY_128",
    "SKIN_REFERENCE",
    "FaceHistograms",
    "Region",
    "face_histograms",
    "make_quality_crop",
    "region",
]

_T = TypeVar("_T", bound=np.generic)

SIZE = 128
IED = 32.0
CENTER_X = 64.0
EYE_Y = 50.0

#: 128x128 quality template (see the module docstring for how the points were measured).
QUALITY_128 = AlignmentTemplate(
    "quality_128",
    (SIZE, SIZE),
    (
        (CENTER_X - IED / 2, EYE_Y),
        (CENTER_X + IED / 2, EYE_Y),
        (CENTER_X, EYE_Y + 0.56 * IED),
        (CENTER_X - 0.425 * IED, EYE_Y + 1.0 * IED),
        (CENTER_X + 0.425 * IED, EYE_Y + 1.0 * IED),
    ),
)

Region = tuple[int, int, int, int]

#: eye windows, 20 x 13 px around each eye landmark (48, 50) and (80, 50)
EYE_LEFT: Region = (44, 57, 38, 58)
EYE_RIGHT: Region = (44, 57, 70, 90)
#: skin just below the eyes, the reference for eye contrast
CHEEKS_UNDER_EYES: tuple[Region, Region] = ((60, 70, 38, 54), (60, 70, 74, 90))
#: skin of the glabella/lower forehead and right under the eyes: above any face mask or scarf
SKIN_REFERENCE: tuple[Region, ...] = ((24, 40, 56, 72), (57, 64, 38, 54), (57, 64, 74, 90))
#: lips and mouth line between the mouth corners (50, 82) and (78, 82)
MOUTH: Region = (74, 92, 52, 76)
#: the inside of the face, from the brows to the chin, cheek to cheek (sharpness)
INNER_FACE: Region = (34, 106, 36, 92)
#: face region for luminance statistics: an ellipse centred on (64, 70) with half-axes 28 x 40 px
FACE_ELLIPSE_CENTER = (64, 70)
FACE_ELLIPSE_AXES = (28, 40)


def region(image: npt.NDArray[_T], r: Region) -> npt.NDArray[_T]:
    """The view ``image[y0:y1, x0:x1]``."""
    y0, y1, x0, x1 = r
    return image[y0:y1, x0:x1]


def make_quality_crop(image_rgb: npt.NDArray[np.uint8], landmarks_xy: npt.ArrayLike) -> npt.NDArray[np.uint8] | None:
    """The face warped to :data:`QUALITY_128`, or ``None`` when the landmarks are degenerate or not finite."""
    try:
        return align_face(image_rgb, landmarks_xy, QUALITY_128)
    except ValueError:
        return None


@dataclass(frozen=True)
class FaceHistograms:
    """256-bin luminance histograms (pixel counts) of the left and right halves of the face ellipse."""

    left: npt.NDArray[np.float64]
    right: npt.NDArray[np.float64]

    @property
    def total(self) -> npt.NDArray[np.float64]:
        return self.left + self.right


def face_histograms(gray: npt.NDArray[np.uint8]) -> FaceHistograms:
    """Histograms of the face ellipse of a quality crop's luminance, split at the vertical centre line."""
    import cv2

    mask = np.zeros(gray.shape, np.uint8)
    cv2.ellipse(mask, FACE_ELLIPSE_CENTER, FACE_ELLIPSE_AXES, 0.0, 0.0, 360.0, 255, -1)
    half = FACE_ELLIPSE_CENTER[0]
    left = mask.copy()
    left[:, half:] = 0
    right = mask
    right[:, :half] = 0
    h_left = cv2.calcHist([gray], [0], left, [256], [0, 256]).ravel().astype(np.float64)
    h_right = cv2.calcHist([gray], [0], right, [256], [0, 256]).ravel().astype(np.float64)
    return FaceHistograms(h_left, h_right)

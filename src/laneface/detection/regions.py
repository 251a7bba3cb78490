"""Face detection in regions of an image: windows or windshields, crops around tracked faces, tiles.

The detector runs on the crop of each region (see :mod:`laneface.geometry` for what a region is) and its
faces are moved back to image coordinates. Faces found in overlapping regions are merged by non-maximum
suppression.

A face whose box lies within ``edge_margin_px`` of a region edge that is not the image's edge may be cut
by the crop. The caller states what happens to it with ``cut_faces``:

* ``"keep"``: it is kept as found (part of a face is still a face; a windshield search enlarges its
  regions so that heads at the glass's edge are not cut);
* ``"drop"``: it is dropped, because another region or another pass sees that face whole (the crops
  around tracked faces, whose faces are found at the next full-frame detection; overlapping tiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.geometry import Region, inside_inner_edges, nms_xyxy, pixel_regions
from laneface.types import FaceDetections

__all__ = ["CutFaces", "detect_in_regions", "search_regions"]

CutFaces = Literal["keep", "drop"]


def search_regions(
    detector: FaceDetector,
    image_rgb: npt.NDArray[np.uint8],
    regions: Sequence[Region],
    *,
    cut_faces: CutFaces,
    edge_margin_px: float = 1.0,
) -> list[FaceDetections]:
    """The faces of each region in which ``detector`` found any, in image coordinates, in region order.

    One entry per such region, after the ``cut_faces`` rule: an entry is empty when every face the
    region showed was dropped as cut. ``regions`` must lie inside the image (see :func:`pixel_regions`).
    """
    h, w = image_rgb.shape[:2]
    parts: list[FaceDetections] = []
    for region in regions:
        x0, y0, x1, y1 = region
        found = detector.detect(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
        if len(found) == 0:
            continue
        if cut_faces == "drop":
            found = found[inside_inner_edges(found.boxes_xyxy, region, (w, h), edge_margin_px)]
        parts.append(found.shifted(x0, y0))
    return parts


def detect_in_regions(
    detector: FaceDetector,
    image_rgb: npt.NDArray[np.uint8],
    regions_xyxy: npt.ArrayLike,
    *,
    cut_faces: CutFaces,
    edge_margin_px: float = 1.0,
    nms_iou: float = 0.4,
) -> FaceDetections:
    """Faces found by ``detector`` in the regions ``regions_xyxy`` (N, 4) of ``image_rgb``, in image
    coordinates; faces near a region's inner edge are kept or dropped as ``cut_faces`` says.

    Regions are grown to whole pixels and clipped to the image; those under 2 pixels are skipped. Wrap
    ``detector`` in :class:`~laneface.detection.scaling.ScaledTiledDetector` to upscale the regions,
    which is where small rear-row faces are.
    """
    h, w = image_rgb.shape[:2]
    regions = pixel_regions(regions_xyxy, (w, h))
    found = search_regions(detector, image_rgb, regions, cut_faces=cut_faces, edge_margin_px=edge_margin_px)
    parts = [p for p in found if len(p)]
    merged = FaceDetections.concatenate(parts, getattr(detector, "name", ""))
    if len(parts) <= 1:
        return merged
    return merged[nms_xyxy(merged.boxes_xyxy, merged.scores, nms_iou)]

"""Detection in regions of interest: between two full-frame detections, the detector runs only on crops
around the boxes the tracker predicts, which costs a fraction of a full frame. New faces are found at the
next full-frame detection.

Each predicted box is grown by ``margin`` face sizes on every side (at least ``min_side`` pixels square),
overlapping regions are merged into their bounding box, and the detections of all regions are mapped back
to frame coordinates and de-duplicated by non-maximum suppression. A face whose box touches a region's edge
(where that edge is not the frame's) may be cut by the crop and is dropped: it lies in another region or
is found at the next full-frame detection.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector, nms_xyxy
from laneface.types import FaceDetections

__all__ = ["detect_in_regions", "regions_around"]

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1 > x0, y1 > y0


def _overlap(a: Region, b: Region) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def regions_around(
    boxes_xyxy: npt.ArrayLike, image_wh: tuple[int, int], *, margin: float = 1.0, min_side: int = 96
) -> list[Region]:
    """Merged, clipped regions around ``boxes_xyxy`` (N, 4); empty when there is no box."""
    w, h = image_wh
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    regions: list[Region] = []
    for x0, y0, x1, y1 in boxes:
        side = max(x1 - x0, y1 - y0, 1.0)
        pad = margin * side
        half = max(min_side / 2.0, side / 2.0 + pad)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        r = (
            max(0, int(np.floor(cx - half))),
            max(0, int(np.floor(cy - half))),
            min(w, int(np.ceil(cx + half))),
            min(h, int(np.ceil(cy + half))),
        )
        if r[2] - r[0] >= 2 and r[3] - r[1] >= 2:
            regions.append(r)
    merged = True
    while merged:
        merged = False
        out: list[Region] = []
        for r in regions:
            for k, o in enumerate(out):
                if _overlap(r, o):
                    out[k] = (min(r[0], o[0]), min(r[1], o[1]), max(r[2], o[2]), max(r[3], o[3]))
                    merged = True
                    break
            else:
                out.append(r)
        regions = out
    return sorted(regions)


def detect_in_regions(
    detector: FaceDetector,
    image_rgb: npt.NDArray[np.uint8],
    regions: list[Region],
    *,
    nms_iou: float = 0.4,
    edge: float = 1.0,
) -> FaceDetections:
    """Faces found by ``detector`` in the ``regions`` of ``image_rgb``, in frame coordinates."""
    h, w = image_rgb.shape[:2]
    parts: list[FaceDetections] = []
    for x0, y0, x1, y1 in regions:
        found = detector.detect(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
        if len(found) == 0:
            continue
        b = found.boxes_xyxy
        inside = np.ones(len(found), dtype=bool)
        if x0 > 0:
            inside &= b[:, 0] > edge
        if y0 > 0:
            inside &= b[:, 1] > edge
        if x1 < w:
            inside &= b[:, 2] < (x1 - x0) - edge
        if y1 < h:
            inside &= b[:, 3] < (y1 - y0) - edge
        found = found[inside]
        if len(found) == 0:
            continue
        shift = np.array([x0, y0], dtype=np.float32)
        parts.append(
            FaceDetections(
                found.boxes_xyxy + np.tile(shift, 2), found.landmarks_xy + shift, found.scores, found.detector
            )
        )
    merged = FaceDetections.concatenate(parts, getattr(detector, "name", ""))
    if len(parts) <= 1:
        return merged
    return merged[nms_xyxy(merged.boxes_xyxy, merged.scores, nms_iou)]

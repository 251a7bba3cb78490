"""Box geometry shared by detection, tracking and evaluation: IoU, non-maximum suppression and regions.

Boxes are pixel ``xyxy`` (see :mod:`laneface.types`). Every IoU in the code base is computed here, in
float64, so that a threshold decides the same way wherever it is applied. This is the lowest layer: it
imports numpy only.

A *region* is an integer pixel rectangle ``(x0, y0, x1, y1)`` of an image, clipped to it, ``x1 > x0``,
``y1 > y0``: a window or windshield searched for faces, a crop around a tracked face, or a tile of an
upscaled image. A face near a region's edge may be cut by the crop; :func:`inside_inner_edges` states
the one rule for dropping such faces (an edge that is also the image's edge cuts nothing).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "Region",
    "inside_inner_edges",
    "iou",
    "iou_matrix",
    "nms_xyxy",
    "pixel_regions",
    "regions_around",
]

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1 > x0, y1 > y0


def iou_matrix(a_xyxy: npt.ArrayLike, b_xyxy: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), pixel xyxy, in float64.

    A box with x1 < x0 or y1 < y0 has area 0; a pair whose union is 0 has IoU 0.
    """
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    ix0 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy0 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix1 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def iou(a_xyxy: npt.ArrayLike, b_xyxy: npt.ArrayLike) -> float:
    """IoU of two boxes, pixel xyxy (the one-pair case of :func:`iou_matrix`)."""
    return float(iou_matrix(a_xyxy, b_xyxy)[0, 0])


def nms_xyxy(
    boxes_xyxy: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou_threshold: float
) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; returns kept indices in descending score order.

    A box is suppressed by a kept, higher-scoring box when their IoU exceeds ``iou_threshold``.
    """
    if len(scores) == 0:
        return np.zeros((0,), np.intp)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[iou_matrix(boxes[i : i + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def pixel_regions(regions_xyxy: npt.ArrayLike, image_wh: tuple[int, int]) -> list[Region]:
    """``regions_xyxy`` (N, 4), possibly fractional or outside the image, as regions: grown outwards to
    whole pixels, clipped to the image; a region under 2 pixels wide or high after clipping is left out."""
    w, h = image_wh
    out: list[Region] = []
    for x0f, y0f, x1f, y1f in np.asarray(regions_xyxy, dtype=np.float64).reshape(-1, 4):
        x0, y0 = max(0, int(np.floor(x0f))), max(0, int(np.floor(y0f)))
        x1, y1 = min(w, int(np.ceil(x1f))), min(h, int(np.ceil(y1f)))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append((x0, y0, x1, y1))
    return out


def inside_inner_edges(
    boxes_xyxy: npt.NDArray[np.float32], region: Region, image_wh: tuple[int, int], margin_px: float
) -> npt.NDArray[np.bool_]:
    """Which boxes, in the region's own coordinates, lie more than ``margin_px`` inside every edge of
    ``region`` that is not an edge of the image (W, H): the others may be faces cut by the crop."""
    x0, y0, x1, y1 = region
    w, h = image_wh
    ok = np.ones(len(boxes_xyxy), dtype=bool)
    if x0 > 0:
        ok &= boxes_xyxy[:, 0] > margin_px
    if y0 > 0:
        ok &= boxes_xyxy[:, 1] > margin_px
    if x1 < w:
        ok &= boxes_xyxy[:, 2] < (x1 - x0) - margin_px
    if y1 < h:
        ok &= boxes_xyxy[:, 3] < (y1 - y0) - margin_px
    return ok


def _overlap(a: Region, b: Region) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def regions_around(
    boxes_xyxy: npt.ArrayLike, image_wh: tuple[int, int], *, margin: float = 1.0, min_side: int = 96
) -> list[Region]:
    """Merged, clipped regions around ``boxes_xyxy`` (N, 4); empty when there is no box.

    Each box is grown by ``margin`` face sizes on every side (at least ``min_side`` pixels square),
    and overlapping regions are merged into their bounding box.
    """
    grown = []
    for x0, y0, x1, y1 in np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4):
        side = max(x1 - x0, y1 - y0, 1.0)
        half = max(min_side / 2.0, side / 2.0 + margin * side)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        grown.append((cx - half, cy - half, cx + half, cy + half))
    regions = pixel_regions(grown, image_wh)
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

"""Upscaling and tiling around any FaceDetector, for the small faces of rear rows.

A face with an inter-eye distance of 15-20 px is below what most detectors were trained on. Upscaling
the image (or a region of it) by ``upscale`` brings such faces into range; tiling keeps the cost of
detection on a large upscaled image bounded and lets fixed-input detectors (640x640) see full
resolution. Tiles overlap by ``overlap``; a detection touching an inner tile edge is dropped because the
neighbouring tile sees that face whole. Faces larger than the overlap are cut in every tile, so by
default the original image is also searched once at its own scale (``full_frame_pass``); all results
are merged by non-maximum suppression.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector, nms_xyxy
from laneface.types import FaceDetections

__all__ = ["ScaledTiledDetector", "detect_in_regions", "tile_origins"]


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` (fraction)."""
    if tile <= 0 or length <= tile:
        return [0]
    step = max(1, int(tile * (1.0 - overlap)))
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


class ScaledTiledDetector:
    """Runs ``base`` on an upscaled and optionally tiled copy of the image and maps results back."""

    def __init__(
        self,
        base: FaceDetector,
        *,
        upscale: float = 1.0,
        tile_size: int = 0,
        overlap: float = 0.25,
        nms_iou: float = 0.4,
        edge_margin_px: float = 2.0,
        full_frame_pass: bool = True,
    ) -> None:
        if upscale <= 0:
            raise ValueError("upscale must be positive")
        if tile_size < 0 or not 0.0 <= overlap < 0.9:
            raise ValueError("tile_size must be >= 0 and overlap in [0, 0.9)")
        self.base = base
        self.upscale = float(upscale)
        self.tile_size = int(tile_size)
        self.overlap = float(overlap)
        self.nms_iou = float(nms_iou)
        self.edge_margin_px = float(edge_margin_px)
        self.full_frame_pass = bool(full_frame_pass)
        suffix = []
        if self.upscale != 1.0:
            suffix.append(f"x{self.upscale:g}")
        if self.tile_size:
            suffix.append(f"tile{self.tile_size}")
        self.name = base.name + ("+" + "+".join(suffix) if suffix else "")

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        import cv2

        h, w = image_rgb.shape[:2]
        img = image_rgb
        if self.upscale != 1.0:
            size = (max(1, round(w * self.upscale)), max(1, round(h * self.upscale)))
            interp = cv2.INTER_LINEAR if self.upscale > 1 else cv2.INTER_AREA
            img = np.asarray(cv2.resize(image_rgb, size, interpolation=interp), dtype=np.uint8)
        H, W = img.shape[:2]
        parts: list[FaceDetections] = []
        xs, ys = tile_origins(W, self.tile_size, self.overlap), tile_origins(H, self.tile_size, self.overlap)
        tiled = len(xs) * len(ys) > 1
        for y0 in ys:
            for x0 in xs:
                x1 = W if not tiled else min(W, x0 + self.tile_size)
                y1 = H if not tiled else min(H, y0 + self.tile_size)
                dets = self.base.detect(np.ascontiguousarray(img[y0:y1, x0:x1]))
                if len(dets) == 0:
                    continue
                if tiled:
                    keep = self._inside_inner_edges(dets.boxes_xyxy, x0, y0, x1, y1, W, H)
                    dets = dets[keep]
                offset = np.array([x0, y0], np.float32)
                parts.append(
                    FaceDetections(
                        dets.boxes_xyxy + np.tile(offset, 2),
                        dets.landmarks_xy + offset,
                        dets.scores,
                        self.name,
                    )
                )
        s = 1.0 / self.upscale
        parts = [FaceDetections(p.boxes_xyxy * s, p.landmarks_xy * s, p.scores, self.name) for p in parts]
        if self.full_frame_pass and (tiled or self.upscale > 1.0):
            # faces larger than the tile overlap are cut by every tile: the original image finds them whole
            parts.append(self.base.detect(image_rgb))
        merged = FaceDetections.concatenate(parts, self.name)
        if len(merged) == 0:
            return FaceDetections.empty(self.name)
        if len(parts) > 1:
            merged = merged[nms_xyxy(merged.boxes_xyxy, merged.scores, self.nms_iou)]
        return FaceDetections(merged.boxes_xyxy, merged.landmarks_xy, merged.scores, self.name)

    def _inside_inner_edges(
        self, boxes: npt.NDArray[np.float32], x0: int, y0: int, x1: int, y1: int, W: int, H: int
    ) -> npt.NDArray[np.bool_]:
        m = self.edge_margin_px
        ok = np.ones(len(boxes), bool)
        if x0 > 0:
            ok &= boxes[:, 0] > m
        if y0 > 0:
            ok &= boxes[:, 1] > m
        if x1 < W:
            ok &= boxes[:, 2] < (x1 - x0) - m
        if y1 < H:
            ok &= boxes[:, 3] < (y1 - y0) - m
        return ok


def detect_in_regions(
    detector: FaceDetector,
    image_rgb: npt.NDArray[np.uint8],
    regions_xyxy: npt.ArrayLike,
    *,
    nms_iou: float = 0.4,
) -> FaceDetections:
    """Run ``detector`` on each region (e.g. a windshield or side window) and map faces back to the image.

    Regions are clipped to the image; empty ones are skipped. Faces found in overlapping regions are
    merged by non-maximum suppression. Wrap ``detector`` in :class:`ScaledTiledDetector` to upscale the
    regions, which is where small rear-row faces are.
    """
    regions = np.asarray(regions_xyxy, dtype=np.float64).reshape(-1, 4)
    h, w = image_rgb.shape[:2]
    parts: list[FaceDetections] = []
    for x0f, y0f, x1f, y1f in regions:
        x0, y0 = max(0, int(np.floor(x0f))), max(0, int(np.floor(y0f)))
        x1, y1 = min(w, int(np.ceil(x1f))), min(h, int(np.ceil(y1f)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        dets = detector.detect(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
        if len(dets):
            off = np.array([x0, y0], np.float32)
            parts.append(
                FaceDetections(dets.boxes_xyxy + np.tile(off, 2), dets.landmarks_xy + off, dets.scores, detector.name)
            )
    merged = FaceDetections.concatenate(parts, detector.name)
    if len(parts) > 1:
        merged = merged[nms_xyxy(merged.boxes_xyxy, merged.scores, nms_iou)]
    return merged

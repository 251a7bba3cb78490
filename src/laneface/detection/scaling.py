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

from laneface.detection.base import FaceDetector
from laneface.detection.regions import search_regions
from laneface.geometry import nms_xyxy
from laneface.types import FaceDetections

__all__ = ["ScaledTiledDetector", "tile_origins"]


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
        xs, ys = tile_origins(W, self.tile_size, self.overlap), tile_origins(H, self.tile_size, self.overlap)
        tiled = len(xs) * len(ys) > 1
        tiles = [
            (x0, y0, min(W, x0 + self.tile_size), min(H, y0 + self.tile_size)) if tiled else (0, 0, W, H)
            for y0 in ys
            for x0 in xs
        ]
        # a tile whose faces were all cut still counts as a part below, so the merge runs NMS
        parts = search_regions(self.base, img, tiles, cut_faces="drop", edge_margin_px=self.edge_margin_px)
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

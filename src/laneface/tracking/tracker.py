"""Per-camera face tracker: detections of successive frames linked into tracks.

Each processed frame, live tracks predict their box (constant velocity from their last two detections;
a track seen once moves with the camera's recent median velocity, since every face of a passing vehicle
moves alike) and are assigned to the frame's detections by maximum total similarity
(:func:`max_weight_assignment`). Geometry gives the similarity: the IoU of predicted and detected box, or,
when the IoU is below ``min_iou`` (a stride of several frames, a vehicle passing a side camera), a smaller
value falling with the distance of the box centres, allowed up to ``max_shift_x`` / ``max_shift_y`` face
sizes and a size change of ``max_size_ratio``. While the camera's motion is unknown, tracks seen once are
predicted with a guess of it (:meth:`FaceTracker.guess_motion`: the shift, up to ``first_link_shift_x`` face
sizes along x, that the most of them agree on), since on a fast vehicle the next detection of a face lies
several face sizes further along. Optional appearance vectors (L2-normalised, one per
detection) blend in their cosine with weight ``appearance_weight`` and veto pairs below
``min_appearance``.

A detection left unassigned starts a new track; a track not seen for more than ``max_missed`` processed
frames ends. :meth:`FaceTracker.finish` returns the tracks with at least ``min_hits`` detections, and the
single detections whose score is at least ``single_hit_score`` (a face a side camera sees in one
processed frame only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from laneface.geometry import iou_matrix
from laneface.tracking.assignment import max_weight_assignment
from laneface.types import FaceDetections

__all__ = ["FaceTrack", "FaceTracker", "TrackPoint", "TrackerConfig"]

FloatArray = npt.NDArray[np.float32]


def _centres_sizes(boxes: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Centres (N, 2) and face sizes (N,: the square root of the box area) of xyxy boxes."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    sizes = np.sqrt(np.clip((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6, None))
    return (b[:, :2] + b[:, 2:]) / 2.0, sizes


@dataclass(frozen=True)
class TrackerConfig:
    min_iou: float = 0.25
    max_shift_x: float = 2.0  # centre distance in face sizes (sqrt of box area), for pairs below min_iou
    max_shift_y: float = 1.0
    first_link_shift_x: float = 5.0  # how far a guess of the camera's motion may reach, in face sizes
    max_size_ratio: float = 1.6  # larger / smaller box side, for pairs below min_iou
    max_missed: int = 3  # processed frames without a detection before a track ends
    min_hits: int = 2  # detections a track needs to be reported
    single_hit_score: float = 0.85  # ... unless its one detection scores at least this
    appearance_weight: float = 0.5
    min_appearance: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f"min_iou must lie in (0, 1], got {self.min_iou}")
        if self.max_missed < 0 or self.min_hits < 1:
            raise ValueError("max_missed must be >= 0 and min_hits >= 1")
        if self.first_link_shift_x < 0:
            raise ValueError(f"first_link_shift_x must be >= 0, got {self.first_link_shift_x}")
        if not 0.0 <= self.appearance_weight <= 1.0:
            raise ValueError(f"appearance_weight must lie in [0, 1], got {self.appearance_weight}")


@dataclass(frozen=True)
class TrackPoint:
    """One detection on a track, in pixel coordinates of its frame."""

    frame_index: int
    timestamp_s: float
    box_xyxy: FloatArray  # (4,)
    landmarks_xy: FloatArray  # (5, 2)
    score: float

    @property
    def inter_eye_distance_px(self) -> float:
        d = self.landmarks_xy[1] - self.landmarks_xy[0]
        return float(np.hypot(d[0], d[1]))

    @property
    def center_xy(self) -> tuple[float, float]:
        b = self.box_xyxy
        return float(b[0] + b[2]) / 2.0, float(b[1] + b[3]) / 2.0


@dataclass(frozen=True)
class FaceTrack:
    """A face followed over the frames of one camera."""

    track_id: int
    camera: str
    points: tuple[TrackPoint, ...]

    @property
    def hits(self) -> int:
        return len(self.points)

    @property
    def first_frame(self) -> int:
        return self.points[0].frame_index

    @property
    def last_frame(self) -> int:
        return self.points[-1].frame_index

    @property
    def frames(self) -> frozenset[int]:
        return frozenset(p.frame_index for p in self.points)

    def overlaps(self, other: FaceTrack) -> bool:
        """True when both tracks have a detection in one frame of the same camera (two different faces)."""
        return self.camera == other.camera and not self.frames.isdisjoint(other.frames)


@dataclass
class _Live:
    track_id: int
    points: list[TrackPoint] = field(default_factory=list)
    missed: int = 0
    appearance: FloatArray | None = None

    def velocity(self) -> FloatArray | None:
        """Box change per frame between the last two detections."""
        if len(self.points) < 2:
            return None
        last, prev = self.points[-1], self.points[-2]
        gap = max(1, last.frame_index - prev.frame_index)
        return np.asarray((last.box_xyxy - prev.box_xyxy) / gap, dtype=np.float32)

    def predict(self, frame_index: int, motion: FloatArray | None = None) -> FloatArray:
        last = self.points[-1]
        if len(self.points) < 2:
            if motion is None:
                return last.box_xyxy
            return np.asarray(last.box_xyxy + motion * (frame_index - last.frame_index), dtype=np.float32)
        prev = self.points[-2]
        gap = max(1, last.frame_index - prev.frame_index)
        velocity = (last.box_xyxy - prev.box_xyxy) / gap
        return np.asarray(last.box_xyxy + velocity * (frame_index - last.frame_index), dtype=np.float32)


class FaceTracker:
    """Tracks the faces of one camera. Feed frames in order with :meth:`update`; :meth:`reset` starts over."""

    def __init__(self, camera: str = "", config: TrackerConfig | None = None) -> None:
        self.camera = camera
        self.config = config or TrackerConfig()
        self._next_id = 0
        self._live: list[_Live] = []
        self._ended: list[_Live] = []
        self._motion: FloatArray | None = None

    def reset(self) -> None:
        self._next_id = 0
        self._live = []
        self._ended = []
        self._motion = None

    def predicted_boxes(self, frame_index: int, motion: FloatArray | None = None) -> FloatArray:
        """Where the live tracks are expected in frame ``frame_index`` (N, 4), pixel xyxy; ``motion`` (box
        change per frame) stands in for the camera's motion while that is unknown."""
        if not self._live:
            return np.zeros((0, 4), np.float32)
        m = self._motion if self._motion is not None else motion
        return np.stack([t.predict(frame_index, m) for t in self._live]).astype(np.float32)

    def guess_motion(self, frame_index: int, boxes: FloatArray) -> FloatArray | None:
        """A guess of the camera's motion (box change per frame) from the tracks seen once and the
        detections ``boxes`` of frame ``frame_index``: of the shifts from such a track to a detection within
        ``first_link_shift_x`` / ``max_shift_y`` face sizes (sizes within ``max_size_ratio``), the one that
        the most tracks agree with (within half a face size), the smallest on a tie. ``None`` when the motion
        is known or no shift qualifies."""
        c = self.config
        singles = [t for t in self._live if len(t.points) < 2]
        if self._motion is not None or not singles or not len(boxes):
            return None
        cb, size_b = _centres_sizes(boxes)
        cs, size_s = _centres_sizes(np.stack([t.points[-1].box_xyxy for t in singles]))
        shifts: list[tuple[int, float, npt.NDArray[np.float64], int]] = []  # (track, size, per-frame shift, gap)
        for k, t in enumerate(singles):
            size_p = float(size_s[k])
            gap = max(1, frame_index - t.points[-1].frame_index)
            d = cb - cs[k]
            size = np.maximum(size_p, size_b)
            ok = (
                (np.abs(d[:, 0]) <= c.first_link_shift_x * size)
                & (np.abs(d[:, 1]) <= c.max_shift_y * size)
                & (size / np.minimum(size_p, size_b) <= c.max_size_ratio)
            )
            shifts.extend((k, float(size[j]), d[j] / gap, gap) for j in np.flatnonzero(ok))
        if not shifts:
            return None
        best: tuple[int, float] | None = None
        choice = shifts[0][2]
        for _, _, shift, _ in shifts:
            agree = {k for k, size, other, gap in shifts if np.all(np.abs((other - shift) * gap) <= 0.5 * size)}
            key = (len(agree), -float(np.hypot(*shift)))
            if best is None or key > best:
                best, choice = key, shift
        dx, dy = float(choice[0]), float(choice[1])
        return np.array([dx, dy, dx, dy], np.float32)

    @property
    def motion_unknown(self) -> bool:
        """True when a live track has been seen once and the camera's motion is not known yet: its next
        position is a guess (the pipeline then searches the whole frame)."""
        return self._motion is None and any(len(t.points) < 2 for t in self._live)

    def _similarity(
        self, predicted: FloatArray, boxes: FloatArray
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        c = self.config
        iou = iou_matrix(predicted, boxes)
        cp, size_p = _centres_sizes(predicted)
        cb, size_b = _centres_sizes(boxes)
        size = np.maximum(size_p[:, None], size_b[None, :])
        dx = np.abs(cp[:, None, 0] - cb[None, :, 0]) / size / c.max_shift_x
        dy = np.abs(cp[:, None, 1] - cb[None, :, 1]) / size / c.max_shift_y
        dist = np.maximum(dx, dy)  # 1 at the edge of the gate
        ratio = size / np.minimum(size_p[:, None], size_b[None, :])
        near = (dist < 1.0) & (ratio <= c.max_size_ratio)
        fallback = c.min_iou * (1.0 - dist) * 0.99
        sim = np.where(iou >= c.min_iou, iou, np.where(near, fallback, 0.0))
        return sim, sim > 0

    def update(
        self,
        detections: FaceDetections,
        frame_index: int,
        timestamp_s: float = 0.0,
        appearance: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.intp]:
        """Assign the detections of one frame to tracks; returns the track id of each detection."""
        c = self.config
        n = len(detections)
        feats: FloatArray | None = None
        if appearance is not None:
            feats = np.asarray(appearance, dtype=np.float32).reshape(n, -1)
        ids = np.full(n, -1, dtype=np.intp)
        if self._live and n:
            guess = self.guess_motion(frame_index, detections.boxes_xyxy)
            sim, ok = self._similarity(self.predicted_boxes(frame_index, guess), detections.boxes_xyxy)
            if feats is not None:
                for i, t in enumerate(self._live):
                    if t.appearance is None:
                        continue
                    cos = feats @ t.appearance
                    ok[i] &= cos >= c.min_appearance
                    sim[i] = (1 - c.appearance_weight) * sim[i] + c.appearance_weight * np.clip(cos, 0, None)
            for r, col in max_weight_assignment(sim, ok):
                ids[col] = self._live[r].track_id
        by_id = {t.track_id: t for t in self._live}
        for k in range(n):
            if ids[k] < 0:
                track = _Live(self._next_id)
                self._next_id += 1
                self._live.append(track)
                by_id[track.track_id] = track
                ids[k] = track.track_id
            track = by_id[int(ids[k])]
            track.points.append(
                TrackPoint(
                    frame_index,
                    float(timestamp_s),
                    detections.boxes_xyxy[k],
                    detections.landmarks_xy[k],
                    float(detections.scores[k]),
                )
            )
            track.missed = 0
            if feats is not None:
                f = feats[k]
                if track.appearance is None:
                    track.appearance = f
                else:
                    mixed = 0.7 * track.appearance + 0.3 * f
                    track.appearance = np.asarray(mixed / max(float(np.linalg.norm(mixed)), 1e-12), np.float32)
        seen = set(ids.tolist())
        moves = [v for t in self._live if t.track_id in seen and (v := t.velocity()) is not None]
        if moves:
            median = np.median(np.stack(moves), axis=0).astype(np.float32)
            self._motion = median if self._motion is None else np.asarray(0.5 * self._motion + 0.5 * median, np.float32)
        still: list[_Live] = []
        for t in self._live:
            if t.track_id not in seen:
                t.missed += 1
            (still if t.missed <= c.max_missed else self._ended).append(t)
        self._live = still
        return ids

    def finish(self) -> list[FaceTrack]:
        """Every track with at least ``min_hits`` detections or one detection scoring at least
        ``single_hit_score`` (ended or live), by track id."""
        c = self.config
        every = sorted(self._ended + self._live, key=lambda t: t.track_id)
        return [
            FaceTrack(t.track_id, self.camera, tuple(t.points))
            for t in every
            if len(t.points) >= c.min_hits or max(p.score for p in t.points) >= c.single_hit_score
        ]

"""The lane pipeline: one passage in, every occupant with its best shot and identification out.

::

    passage ── cameras ── FrameSource ──Frame (every stride-th)──> FaceDetector ──FaceDetections──>
    FaceTracker (per camera) + CandidateBuffer (cheap proxy, patches) ──FaceTrack──>
    QualityAssessor on the kept faces ──Shot──> FaceEmbedder on the top shots ──Template──>
    associate (tracks -> occupants) ──> best shot + aggregated template per occupant ──>
    identify (1:few + assignment, then 1:N) ──> PassageResult

Real time on one core comes from four choices: detection runs on ``detect_fps`` frames per second of each
camera (``side_detect_fps`` for side views, where a passing vehicle moves fast; a stride, the frames in
between are only grabbed); only ``full_frame_fps`` of those frames per second are searched whole (at least
``min_full_frames`` per camera, spread over the passage, so that a fast vehicle seen for a second gets as
many as a slow one; and any frame after a new face whose motion is not known yet), the others only in
regions around the tracks' predicted boxes (upscaled by ``region_upscale``); quality is assessed only on
the ``candidates_per_track`` faces of each track with the best proxy score; and only the
``shots_per_track`` best shots of each track are embedded.

Dark search regions (around faces in tinted or unlit windows) are corrected for exposure and local contrast
before detection (``enhance_dark``, :mod:`laneface.detection.enhance`); quality, best shots and templates use the
original pixels.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from laneface.capture.passage import CameraSpec, Passage, read_passage
from laneface.config import LaneSettings
from laneface.detection.base import FaceDetector
from laneface.detection.enhance import EnhancingDetector
from laneface.detection.regions import detect_in_regions
from laneface.embedding.base import FaceEmbedder
from laneface.errors import ConfigError, TruncatedVideoError
from laneface.geometry import nms_xyxy, regions_around
from laneface.matching import Matcher, MatchPolicy
from laneface.pipeline.identify import NOT_CAPTURED, identify
from laneface.pipeline.result import OccupantResult, PassageResult
from laneface.selection import (
    CandidateBuffer,
    QualityGate,
    Shot,
    aggregate_templates,
    assess_candidates,
    rank_key,
)
from laneface.tracking.association import AssociationConfig, TrackSummary, associate
from laneface.tracking.rows import RowModel, estimate_rows, estimate_sides
from laneface.tracking.tracker import FaceTracker, TrackerConfig
from laneface.types import FaceDetections, Template

if TYPE_CHECKING:
    from laneface.config import Settings
    from laneface.gallery.store import Gallery
    from laneface.models import ModelStore

__all__ = [
    "CameraResult",
    "LanePipeline",
    "Occupant",
    "TrackResult",
    "detection_stride",
    "full_frame_every",
    "full_frame_indices",
    "lane_policy",
]

logger = logging.getLogger(__name__)


def lane_policy(lane: LaneSettings) -> MatchPolicy:
    """The decision targets of the lane: 1:few at ``lane.few_fmr`` (1:N keeps the library's FPIR)."""
    return MatchPolicy(target_fmr=lane.few_fmr)


def detection_stride(lane: LaneSettings, rows: RowModel, fps: float, view: str = "front") -> int:
    """Frames between two detections for a camera of ``view`` at ``fps``."""
    rate = lane.side_detect_fps if view in rows.side_views else lane.detect_fps
    return max(1, round(fps / rate))


def full_frame_every(lane: LaneSettings, rows: RowModel, fps: float, view: str = "front") -> int:
    """Processed frames between two full-frame detections (1: every processed frame is searched whole)."""
    return max(1, round(fps / detection_stride(lane, rows, fps, view) / lane.full_frame_fps))


def full_frame_indices(processed: int, every: int, min_searches: int) -> frozenset[int]:
    """The processed frames (0 .. ``processed`` - 1) of a camera that are searched whole: every ``every``-th
    from the first, or, when that gives fewer than ``min_searches``, ``min_searches`` frames spread evenly
    from the first to the last (all of them when the camera has no more)."""
    if processed <= 0:
        return frozenset()
    by_rate = frozenset(range(0, processed, max(1, every)))
    n = min(min_searches, processed)
    if len(by_rate) >= n:
        return by_rate
    if n == 1:
        return frozenset({0})
    return frozenset(round(i * (processed - 1) / (n - 1)) for i in range(n))


def _inter_eye_px(shot: Shot) -> float:
    """Inter-eye distance of a shot's face in pixels (at least 1)."""
    eyes = shot.candidate.face.landmarks_xy[0, :2]
    return max(1.0, float(np.hypot(*(eyes[1] - eyes[0]))))


def _frame_count(source: object) -> int | None:
    """The frame count a frame source declares, if it declares one (video files and frame folders do)."""
    count = getattr(source, "frame_count", None)
    return count if isinstance(count, int) and count > 0 else None


@dataclass(frozen=True, eq=False)
class TrackResult:
    """One camera track with what the pipeline learnt of it."""

    summary: TrackSummary
    shots: tuple[Shot, ...]  # every assessed shot, best first
    embedded: tuple[tuple[Shot, Template], ...]  # the embedded ones, best first


@dataclass(frozen=True, eq=False)
class CameraResult:
    """What one camera of a passage gave: its tracks, its video's duration, the frames that were processed."""

    tracks: tuple[TrackResult, ...]
    video_s: float
    frames_processed: int


@dataclass(frozen=True, eq=False)
class Occupant:
    """The tracks of one person across cameras, before identification: the best shot of all of them, the
    template aggregated from their best passing shots (``None`` when none passed), the row most of them saw."""

    row: int | None
    first_seen_s: float
    best: Shot | None
    template: Template | None
    cameras: tuple[str, ...]
    tracks: int

    @property
    def order(self) -> tuple[int, float]:
        """Front rows first, then by when the occupant was first seen."""
        return (self.row if self.row is not None else 99, self.first_seen_s)


def _mode_row(rows: list[int | None]) -> int | None:
    known = [r for r in rows if r is not None]
    if not known:
        return None
    counts = Counter(known)
    return min(counts, key=lambda r: (-counts[r], r))


class LanePipeline:
    """Composes detector, quality assessor, embedder and matcher; :meth:`process` handles one passage.

    The pipeline holds the gallery open when built by :meth:`from_settings`: close it (or use ``with``).
    ``matcher`` gives the gallery and its calibrated thresholds; decisions follow the policy of ``lane``
    (:func:`lane_policy`), whatever policy ``matcher`` was built with.
    """

    def __init__(
        self,
        detector: FaceDetector,
        quality: QualityGate,
        embedder: FaceEmbedder,
        matcher: Matcher,
        lane: LaneSettings | None = None,
        *,
        tracker: TrackerConfig | None = None,
        rows: RowModel | None = None,
        gallery: Gallery | None = None,
    ) -> None:
        self.detector = detector
        self.quality = quality
        self.embedder = embedder
        self.lane = lane or LaneSettings()
        self.tracker = tracker or TrackerConfig()
        self.rows = rows or RowModel()
        lane_ = self.lane
        region: FaceDetector = detector
        if lane_.region_upscale != 1.0:
            from laneface.detection.scaling import ScaledTiledDetector

            region = ScaledTiledDetector(detector, upscale=lane_.region_upscale, full_frame_pass=False)
        self._cabin_detector: FaceDetector | None = None
        if lane_.cabin_upscale != 1.0:
            from laneface.detection.scaling import ScaledTiledDetector

            self._cabin_detector = ScaledTiledDetector(detector, upscale=lane_.cabin_upscale, full_frame_pass=False)
            if lane_.enhance_dark:
                self._cabin_detector = EnhancingDetector(self._cabin_detector, lane_.enhance)
        # whole frames go to the detector as they are: the correction is for dark windows, i.e. regions
        self._whole_detector: FaceDetector = detector
        self._region_detector = EnhancingDetector(region, lane_.enhance) if lane_.enhance_dark else region
        self.matcher = matcher.with_policy(lane_policy(self.lane))
        self._gallery = gallery
        if embedder.model_version != matcher.gallery.model_version:
            raise ConfigError(
                f"embedder {embedder.model_version!r} cannot be matched with the gallery of "
                f"{matcher.gallery.model_version!r}"
            )
        self.link_threshold = matcher.thresholds.at_fmr(self.lane.link_fmr)
        self.consistent_threshold = matcher.thresholds.at_fmr(self.lane.consistent_link_fmr)

    @classmethod
    def from_settings(cls, settings: Settings, store: ModelStore | None = None) -> LanePipeline:
        """The pipeline of ``settings.lane``: its detector and embedder (default: the detection and embedding
        sections'), its quality profile, the gallery of the embedder's model version under
        ``settings.data_dir`` (which must exist: enrol documents first) and its calibrated thresholds."""
        from laneface.detection.factory import build_detector
        from laneface.embedding.factory import build_embedder
        from laneface.gallery.store import Gallery
        from laneface.models import ModelStore
        from laneface.quality import QualityAssessor

        lane = settings.lane
        store = store or ModelStore.from_settings(settings)
        det = build_detector(lane.detector or settings.detection.detector, store, settings.detection)
        emb = build_embedder(lane.embedder or settings.embedding.embedder, store, settings.embedding)
        quality = QualityAssessor.from_config(lane.profile)
        gallery = Gallery.open(settings.data_dir, emb.model_version, create=False)
        try:
            matcher = Matcher.for_gallery(gallery, settings.data_dir, lane_policy(lane))
            return cls(det, quality, emb, matcher, lane, gallery=gallery)
        except BaseException:
            gallery.close()
            raise

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self._gallery is not None:
            self._gallery.close()
            self._gallery = None

    def __enter__(self) -> LanePipeline:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ stages
    def _whole(self, image_rgb: npt.NDArray[np.uint8], size_wh: tuple[int, int]) -> FaceDetections:
        """A whole-frame search, then (``cabin_upscale``) an upscaled search around the faces it found."""
        found = self._whole_detector.detect(image_rgb)
        if self._cabin_detector is None or len(found) == 0:
            return found
        regions = regions_around(
            found.boxes_xyxy, size_wh, margin=self.lane.cabin_margin, min_side=self.lane.roi_min_side
        )
        extra = detect_in_regions(self._cabin_detector, image_rgb, regions, cut_faces="drop")
        if len(extra) == 0:
            return found
        merged = FaceDetections.concatenate([found, extra], found.detector)
        return merged[nms_xyxy(merged.boxes_xyxy, merged.scores, 0.4)]

    def _weights(self, shots: list[Shot]) -> list[float]:
        """Aggregation weights: the unified quality (at least 1), times the face size term of
        ``template_size_power`` (inter-eye distance over 40 px, capped at 1)."""
        power = self.lane.template_size_power
        weights = [max(s.unified, 1.0) for s in shots]
        if power == 0.0:
            return weights
        return [w * min(1.0, _inter_eye_px(s) / 40.0) ** power for w, s in zip(weights, shots, strict=True)]

    def _embed(self, shots: list[Shot]) -> list[Template]:
        if not shots:
            return []
        crops = [crop for s in shots for crop in self.embedder.crops(s.candidate.patch_rgb, s.candidate.face)]
        batch = self.embedder.embed(crops)
        return [batch[i] for i in range(len(batch))]

    def _camera(self, cam: CameraSpec) -> CameraResult:
        lane = self.lane
        stride = detection_stride(lane, self.rows, cam.fps, cam.view)
        full_every = full_frame_every(lane, self.rows, cam.fps, cam.view)
        tracker = FaceTracker(cam.name, self.tracker)
        buffer = CandidateBuffer(lane.candidates_per_track)
        processed = 0
        width = 0
        source = cam.source()
        count = _frame_count(source)
        expected = -(-count // stride) if count is not None else 0  # processed frames the video declares
        planned = full_frame_indices(expected, full_every, lane.min_full_frames)
        for frame in source.frames(stride):
            width = frame.size_wh[0]
            # past the declared frames (or without a count) the rate alone decides
            on_plan = processed in planned if processed < expected else processed % full_every == 0
            if on_plan or tracker.motion_unknown:
                detections = self._whole(frame.image_rgb, frame.size_wh)
            else:
                regions = regions_around(
                    tracker.predicted_boxes(frame.index),
                    frame.size_wh,
                    margin=lane.roi_margin,
                    min_side=lane.roi_min_side,
                )
                detections = detect_in_regions(self._region_detector, frame.image_rgb, regions, cut_faces="drop")
            ids = tracker.update(detections, frame.index, frame.timestamp_s)
            for k in range(len(detections)):
                buffer.offer(cam.name, int(ids[k]), frame.index, frame.timestamp_s, frame.image_rgb, detections, k)
            processed += 1
        tracks = tracker.finish()
        rows = estimate_rows(tracks, cam.view, self.rows)
        sides = estimate_sides(tracks, cam.view, width, self.rows)
        out: list[TrackResult] = []
        for track, row, side in zip(tracks, rows, sides, strict=True):
            shots = assess_candidates(self.quality, buffer.candidates(cam.name, track.track_id))
            chosen = shots[: lane.shots_per_track]
            if chosen and chosen[0].passed:
                chosen = [s for s in chosen if s.passed]
            templates = self._embed(chosen)
            template = aggregate_templates(templates, self._weights(chosen)) if templates else None
            summary = TrackSummary(track, cam.view, template, row, side)
            out.append(TrackResult(summary, tuple(shots), tuple(zip(chosen, templates, strict=True))))
        logger.info("camera %s: %d frames processed (stride %d), %d tracks", cam.name, processed, stride, len(out))
        return CameraResult(tuple(out), source.frames_seen / cam.fps, processed)

    def _occupant(self, members: list[TrackResult]) -> Occupant:
        shots = sorted((s for m in members for s in m.shots), key=rank_key, reverse=True)
        best = shots[0] if shots else None
        passing = sorted(
            ((s, t) for m in members for s, t in m.embedded if s.passed), key=lambda st: rank_key(st[0]), reverse=True
        )[: self.lane.shots_per_occupant]
        template = None
        if best is not None and best.passed and passing:
            template = aggregate_templates([t for _, t in passing], self._weights([s for s, _ in passing]))
        return Occupant(
            row=_mode_row([m.summary.row for m in members]),
            first_seen_s=min(m.summary.track.points[0].timestamp_s for m in members),
            best=best,
            template=template,
            cameras=tuple(sorted({m.summary.track.camera for m in members})),
            tracks=len(members),
        )

    # ------------------------------------------------------------------ entry points
    def process(self, passage_dir: Path | str) -> PassageResult:
        """Read, validate and process one passage directory
        (:class:`~laneface.errors.InvalidPassageError` / :class:`~laneface.errors.InvalidVideoError` on bad input)."""
        start, cpu = time.perf_counter(), time.process_time()
        return self._process(read_passage(passage_dir), start, cpu)

    def process_passage(self, passage: Passage) -> PassageResult:
        """Process an already validated passage."""
        return self._process(passage, time.perf_counter(), time.process_time())

    def _process(self, passage: Passage, start: float, cpu: float) -> PassageResult:
        cameras: list[CameraResult] = []
        broken: list[TruncatedVideoError] = []
        for cam in passage.cameras:
            try:
                cameras.append(self._camera(cam))
            except TruncatedVideoError as exc:  # the other cameras may still see the car: flag, not fail
                logger.warning("passage %s: %s", passage.passage_id, exc)
                broken.append(exc)
        if broken and not cameras:
            raise broken[0]
        tracks = [t for c in cameras for t in c.tracks]
        association = AssociationConfig(self.link_threshold, self.consistent_threshold)
        clusters = associate([t.summary for t in tracks], association)
        people = sorted((self._occupant([tracks[i] for i in cluster]) for cluster in clusters), key=lambda o: o.order)
        matches = identify(self.matcher, [p.template for p in people], passage.documents, k=self.lane.one_to_n_k)
        occupants = tuple(
            OccupantResult(
                occupant_id=n + 1,
                row=person.row,
                quality=person.best.unified if person.best is not None else 0.0,
                quality_passed=person.best is not None and person.best.passed,
                match=match if person.template is not None else NOT_CAPTURED,
                cameras=person.cameras,
                tracks=person.tracks,
                best_shot=person.best,
            )
            for n, (person, match) in enumerate(zip(people, matches, strict=True))
        )
        result = PassageResult(
            passage_id=passage.passage_id,
            lane=passage.lane,
            direction=passage.direction,
            documents=passage.documents,
            occupants=occupants,
            timing_s=time.perf_counter() - start,
            cpu_s=time.process_time() - cpu,
            video_s=max((c.video_s for c in cameras), default=0.0),
            frames_processed=sum(c.frames_processed for c in cameras),
            model_version=self.embedder.model_version,
            started_at=passage.started_at,
            warnings=tuple(
                f"camera {e.camera!r}: {e.decoded} of {e.declared} declared frames decoded; camera left out"
                for e in broken
            ),
        )
        logger.info(
            "passage %s: %d occupants, complete %s, %.2f s for %.2f s of video",
            result.passage_id,
            result.occupant_count,
            result.complete_capture,
            result.timing_s,
            result.video_s,
        )
        return result

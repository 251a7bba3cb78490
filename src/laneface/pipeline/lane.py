"""The lane pipeline: one passage in, every occupant with its best shot and identification out.

::

    passage ── cameras ── FrameSource ──Frame (every stride-th)──> FaceDetector ──FaceDetections──>
    FaceTracker (per camera) + CandidateBuffer (cheap proxy, patches) ──FaceTrack──>
    QualityAssessor on the kept faces ──Shot──> FaceEmbedder on the top shots ──Template──>
    associate (tracks -> occupants) ──> best shot + aggregated template per occupant ──>
    identify (1:few + assignment, then 1:N) ──> PassageResult

Real time on one core comes from four choices: detection runs on ``detect_fps`` frames per second of each
camera (``side_detect_fps`` for side views, where a passing vehicle moves fast; a stride, the frames in
between are only grabbed); only ``full_frame_fps`` of those frames per second are searched whole (and any
frame after a new face whose motion is not known yet), the others only in regions around the tracks'
predicted boxes (:mod:`laneface.pipeline.roi`); quality is assessed only on the ``candidates_per_track``
faces of each track with the best proxy score; and only the ``shots_per_track`` best shots of each track
are embedded.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from laneface.capture.passage import CameraSpec, Passage, read_passage
from laneface.detection.base import FaceDetector
from laneface.detection.regions import detect_in_regions
from laneface.embedding.base import FaceEmbedder
from laneface.errors import ConfigError
from laneface.geometry import regions_around
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
from laneface.types import Template

if TYPE_CHECKING:
    from laneface.config import Settings
    from laneface.gallery.store import Gallery
    from laneface.models import ModelStore

__all__ = ["LaneConfig", "LanePipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaneConfig:
    """Knobs of the lane pipeline (defaults aim at real time on one core for 3 cameras at 10 fps)."""

    detect_fps: float = 5.0  # frames per second and camera that go through detection
    side_detect_fps: float = 10.0  # the same for side views (RowModel.side_views)
    # of those, frames per second searched whole; the others only around tracks. 1.25 (was 2.5) on 200
    # simulated passages: yunet + MobileFaceNet 0.58 instead of 0.81 CPU s per second of video, count exact
    # 65.5 -> 69 %, complete capture 65.5 -> 67 %, 1:few identified 60.0 -> 59.7 %; it takes the dlib HOG
    # stack towards real time (a whole-frame HOG search costs 64 ms).
    full_frame_fps: float = 1.25
    roi_margin: float = 1.0  # face sizes added around a predicted box to make its region
    roi_min_side: int = 128  # px, smallest region side
    candidates_per_track: int = 4  # faces per track kept for the quality assessment
    shots_per_track: int = 2  # best shots per track that are embedded
    shots_per_occupant: int = 3  # best passing shots whose templates make the occupant's template
    # FMR of the recognizer's threshold that links two tracks into one occupant, and the same where seat
    # geometry (vehicle side, row) agrees. Lane shots of one person in two cameras score low (MobileFaceNet
    # 0.1-0.5), so strict links count a person twice: 1e-2 / 5e-2 instead of 1e-3 / 1e-2 raised count-exact
    # from 53 % to 77 % on 30 simulated passages (under-counts unchanged); 5e-2 / 1e-1 merged people. With
    # side cameras giving no side (RowModel.side_views_own_side), 2e-2 / 5e-2 counted 200 passages exactly
    # in 65.5 % (yunet + MobileFaceNet; 63.5 % at 1e-2 with sides) without more under-counts.
    link_fmr: float = 2e-2
    consistent_link_fmr: float = 5e-2
    one_to_n_k: int = 10
    # Decision targets of identification. 1:few: ``policy.target_fmr`` is the false-match probability of an
    # occupant whose own document was not read, compared with the n documents of the vehicle (the Matcher's
    # threshold at target_fmr / n, union bound on the recognizer's calibration); the lane's false matches are
    # then about target_fmr x the share of occupants whose document is not read, plus swaps between
    # passengers whose documents were read when the recognizer cannot tell them apart. On 200 simulated
    # passages (310 occupants in 1:few, 8 % of documents unread) the 1:few stage identified, at 1e-3 / 1e-2 /
    # 3e-2: yunet + MobileFaceNet 48.1 / 59.0 / 63.5 %, no false match; dlib-hog + dlib ResNet 41.6 / 55.8 /
    # 58.1 %, false matches 0 / 1 / 2 (0.65 %: swaps). 1e-2 keeps both within the 0.5 % of occupants.
    # 1:N keeps the library's FPIR (policy.target_fpir).
    policy: MatchPolicy = field(default_factory=lambda: MatchPolicy(target_fmr=1e-2))
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    rows: RowModel = field(default_factory=RowModel)

    def __post_init__(self) -> None:
        for name in ("detect_fps", "side_detect_fps", "full_frame_fps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("candidates_per_track", "shots_per_track", "shots_per_occupant", "one_to_n_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("link_fmr", "consistent_link_fmr"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must lie in (0, 1), got {getattr(self, name)}")

    def stride(self, fps: float, view: str = "front") -> int:
        """Frames between two detections for a camera of ``view`` at ``fps``."""
        rate = self.side_detect_fps if view in self.rows.side_views else self.detect_fps
        return max(1, round(fps / rate))

    def full_frame_every(self, fps: float, view: str = "front") -> int:
        """Processed frames between two full-frame detections (1: every processed frame is searched whole)."""
        return max(1, round(fps / self.stride(fps, view) / self.full_frame_fps))


@dataclass(frozen=True, eq=False)
class _TrackResult:
    summary: TrackSummary
    shots: tuple[Shot, ...]  # every assessed shot, best first
    embedded: tuple[tuple[Shot, Template], ...]  # the embedded ones, best first


def _mode_row(rows: list[int | None]) -> int | None:
    known = [r for r in rows if r is not None]
    if not known:
        return None
    counts = Counter(known)
    return min(counts, key=lambda r: (-counts[r], r))


class LanePipeline:
    """Composes detector, quality assessor, embedder and matcher; :meth:`process` handles one passage.

    The pipeline holds the gallery open when built by :meth:`from_settings`: close it (or use ``with``).
    ``matcher`` gives the gallery and its calibrated thresholds; decisions follow ``config.policy``.
    """

    def __init__(
        self,
        detector: FaceDetector,
        quality: QualityGate,
        embedder: FaceEmbedder,
        matcher: Matcher,
        config: LaneConfig | None = None,
        *,
        gallery: Gallery | None = None,
    ) -> None:
        self.detector = detector
        self.quality = quality
        self.embedder = embedder
        self.config = config or LaneConfig()
        # the matcher's gallery and calibrated thresholds, decided at the lane's policy
        self.matcher = Matcher(matcher.gallery, matcher.thresholds, self.config.policy)
        self._gallery = gallery
        if embedder.model_version != matcher.gallery.model_version:
            raise ConfigError(
                f"embedder {embedder.model_version!r} cannot be matched with the gallery of "
                f"{matcher.gallery.model_version!r}"
            )
        self.link_threshold = matcher.thresholds.at_fmr(self.config.link_fmr)
        self.consistent_threshold = matcher.thresholds.at_fmr(self.config.consistent_link_fmr)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: ModelStore | None = None,
        *,
        config: LaneConfig | None = None,
        detector: str | None = None,
        embedder: str | None = None,
        profile: str = "vehicle",
    ) -> LanePipeline:
        """The pipeline of ``settings``: its detector and embedder (or the named ones), the quality
        profile ``profile``, the gallery of the embedder's model version under ``settings.data_dir`` (which
        must exist: enrol documents first) and its calibrated thresholds."""
        from laneface.detection.factory import build_detector
        from laneface.embedding.factory import build_embedder
        from laneface.gallery.store import Gallery
        from laneface.models import ModelStore
        from laneface.quality import QualityAssessor

        store = store or ModelStore.from_settings(settings)
        det = build_detector(detector or settings.detection.detector, store, settings.detection)
        emb = build_embedder(embedder or settings.embedding.embedder, store, settings.embedding)
        quality = QualityAssessor.from_config(profile)
        gallery = Gallery.open(settings.data_dir, emb.model_version, create=False)
        try:
            matcher = Matcher.for_gallery(gallery, settings.data_dir)
            return cls(det, quality, emb, matcher, config, gallery=gallery)
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
    def _embed(self, shots: list[Shot]) -> list[Template]:
        if not shots:
            return []
        crops = [crop for s in shots for crop in self.embedder.crops(s.candidate.patch_rgb, s.candidate.face)]
        batch = self.embedder.embed(crops)
        return [batch[i] for i in range(len(batch))]

    def _camera(self, cam: CameraSpec) -> tuple[list[_TrackResult], float, int]:
        cfg = self.config
        stride = cfg.stride(cam.fps, cam.view)
        full_every = cfg.full_frame_every(cam.fps, cam.view)
        tracker = FaceTracker(cam.name, cfg.tracker)
        buffer = CandidateBuffer(cfg.candidates_per_track)
        processed = 0
        width = 0
        source = cam.source()
        for frame in source.frames(stride):
            width = frame.size_wh[0]
            if processed % full_every == 0 or tracker.motion_unknown:
                detections = self.detector.detect(frame.image_rgb)
            else:
                regions = regions_around(
                    tracker.predicted_boxes(frame.index),
                    frame.size_wh,
                    margin=cfg.roi_margin,
                    min_side=cfg.roi_min_side,
                )
                detections = detect_in_regions(self.detector, frame.image_rgb, regions, cut_faces="drop")
            ids = tracker.update(detections, frame.index, frame.timestamp_s)
            for k in range(len(detections)):
                buffer.offer(cam.name, int(ids[k]), frame.index, frame.timestamp_s, frame.image_rgb, detections, k)
            processed += 1
        tracks = tracker.finish()
        rows = estimate_rows(tracks, cam.view, cfg.rows)
        sides = estimate_sides(tracks, cam.view, width, cfg.rows)
        out: list[_TrackResult] = []
        for track, row, side in zip(tracks, rows, sides, strict=True):
            shots = assess_candidates(self.quality, buffer.candidates(cam.name, track.track_id))
            chosen = shots[: cfg.shots_per_track]
            if chosen and chosen[0].passed:
                chosen = [s for s in chosen if s.passed]
            templates = self._embed(chosen)
            template = aggregate_templates(templates, [max(s.unified, 1.0) for s in chosen]) if templates else None
            summary = TrackSummary(track, cam.view, template, row, side)
            out.append(_TrackResult(summary, tuple(shots), tuple(zip(chosen, templates, strict=True))))
        logger.info("camera %s: %d frames processed (stride %d), %d tracks", cam.name, processed, stride, len(out))
        return out, source.frames_seen / cam.fps, processed

    def _occupant(self, members: list[_TrackResult]) -> tuple[Shot | None, Template | None, int | None]:
        shots = sorted((s for m in members for s in m.shots), key=rank_key, reverse=True)
        best = shots[0] if shots else None
        passing = sorted(
            ((s, t) for m in members for s, t in m.embedded if s.passed), key=lambda st: rank_key(st[0]), reverse=True
        )[: self.config.shots_per_occupant]
        template = None
        if best is not None and best.passed and passing:
            template = aggregate_templates([t for _, t in passing], [max(s.unified, 1.0) for s, _ in passing])
        front = [m.summary.row for m in members if m.summary.row is not None]
        return best, template, _mode_row(list(front))

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
        tracks: list[_TrackResult] = []
        video_s = 0.0
        processed = 0
        for cam in passage.cameras:
            found, duration, n = self._camera(cam)
            tracks.extend(found)
            video_s = max(video_s, duration)
            processed += n
        association = AssociationConfig(self.link_threshold, self.consistent_threshold)
        clusters = associate([t.summary for t in tracks], association)
        people = []
        for cluster in clusters:
            members = [tracks[i] for i in cluster]
            best, template, row = self._occupant(members)
            first = min(m.summary.track.points[0].timestamp_s for m in members)
            cameras = tuple(sorted({m.summary.track.camera for m in members}))
            people.append((row, first, best, template, cameras, len(members)))
        people.sort(key=lambda p: (p[0] if p[0] is not None else 99, p[1]))
        matches = identify(self.matcher, [p[3] for p in people], passage.documents, k=self.config.one_to_n_k)
        occupants = tuple(
            OccupantResult(
                occupant_id=n + 1,
                row=row,
                quality=best.unified if best is not None else 0.0,
                quality_passed=best is not None and best.passed,
                match=match if template is not None else NOT_CAPTURED,
                cameras=cameras,
                tracks=count,
                best_shot=best,
            )
            for n, ((row, _, best, template, cameras, count), match) in enumerate(zip(people, matches, strict=True))
        )
        result = PassageResult(
            passage_id=passage.passage_id,
            lane=passage.lane,
            direction=passage.direction,
            documents=passage.documents,
            occupants=occupants,
            timing_s=time.perf_counter() - start,
            cpu_s=time.process_time() - cpu,
            video_s=video_s,
            frames_processed=processed,
            model_version=self.embedder.model_version,
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

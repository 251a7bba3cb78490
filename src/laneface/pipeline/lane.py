"""The lane pipeline: one passage in, every occupant with its best shot and identification out.

::

    passage ── cameras ── FrameSource ──Frame (every stride-th)──> FaceDetector ──FaceDetections──>
    FaceTracker (per camera) + CandidateBuffer (cheap proxy, patches) ──FaceTrack──>
    QualityAssessor on the kept faces ──Shot──> FaceEmbedder on the top shots ──Template──>
    associate (tracks -> occupants) ──> best shot + aggregated template per occupant ──>
    identify (documents read, ledger lists, then 1:N) ──> PassageResult

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

import heapq
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from laneface.capture.frames import Frame
from laneface.capture.passage import CameraSpec, Passage, read_passage
from laneface.config import LaneSettings
from laneface.detection.base import FaceDetector
from laneface.detection.enhance import EnhancingDetector
from laneface.detection.regions import detect_in_regions
from laneface.embedding.base import FaceEmbedder
from laneface.errors import ConfigError, TruncatedVideoError
from laneface.geometry import nms_xyxy, regions_around
from laneface.matching import Matcher, MatchPolicy
from laneface.pipeline.candidates import CandidateQuery, CandidateSource
from laneface.pipeline.events import EventSink, PassageEvents
from laneface.pipeline.identify import NOT_CAPTURED, CandidateList, OccupantMatch, identify
from laneface.pipeline.result import OccupantResult, PassageResult
from laneface.selection import (
    CandidateBuffer,
    FaceCandidate,
    QualityGate,
    Shot,
    aggregate_templates,
    rank_key,
)
from laneface.tracking.association import AssociationConfig, TrackSummary, associate
from laneface.tracking.printed import PrintedFaceRule, printed_faces
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
    "PassageStream",
    "TrackResult",
    "detection_stride",
    "full_frame_every",
    "full_frame_indices",
    "lane_policy",
]

logger = logging.getLogger(__name__)


def lane_policy(lane: LaneSettings) -> MatchPolicy:
    """The decision targets of the lane: 1:few at ``lane.few_fmr``, ledger lists at ``lane.list_fpir`` (1:N keeps
    the library's FPIR)."""
    return MatchPolicy(target_fmr=lane.few_fmr, target_list_fpir=lane.list_fpir)


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
    captured_at_s: float | None = None  # passage time of its earliest shot that passes the profile
    capture_zone: str | None = None  # the zone of that shot's camera
    members: frozenset[tuple[str, int]] = frozenset()  # (camera, track id) of its tracks

    @property
    def order(self) -> tuple[int, float]:
        """Front rows first, then by when the occupant was first seen."""
        return (self.row if self.row is not None else 99, self.first_seen_s)


def matched_evidence(
    occupant: Occupant, members: Sequence[TrackResult], match: OccupantMatch, document: Template | None
) -> Occupant:
    """A matched occupant's best shot (the face its record shows beside the document) taken from the one of its
    tracks that scores highest against the matched ``document`` on its own (among those with a shot that passes
    the profile, when any has): where association joined two people's tracks, the record shows the face that
    matched, not the other person's."""
    if match.doc_id is None or document is None or occupant.best is None:
        return occupant
    scored = [
        (float(m.summary.template.vector @ document.vector), m)
        for m in members
        if m.summary.template is not None and m.shots
    ]
    if len(scored) < 2:
        return occupant
    passing = [(score, m) for score, m in scored if any(shot.passed for shot in m.shots)] or scored
    closest = max(passing, key=lambda sm: sm[0])[1]
    best = max(closest.shots, key=rank_key)
    return occupant if best is occupant.best else replace(occupant, best=best)


def absorbed(
    groups: Sequence[list[TrackResult]],
    matches: Sequence[OccupantMatch],
    references: Mapping[str, Template],
    threshold: float,
) -> list[list[TrackResult]]:
    """``groups`` (the tracks of each occupant, as ``matches``) with every unmatched occupant's tracks moved to
    the matched occupant whose document (``references``) its tracks' mean template scores highest against, at
    ``threshold`` or more, where no camera saw the two in one frame and their rows are at most one apart; an
    occupant moved away is left with no tracks. A person's stray tracks (a side view, a short fragment) that
    association left apart join the tracks that matched, so the vehicle is counted right."""
    out = [list(g) for g in groups]
    matched = [i for i, m in enumerate(matches) if m.doc_id is not None and m.doc_id in references]
    candidates: list[tuple[float, int, int]] = []
    for u, (group, match) in enumerate(zip(groups, matches, strict=True)):
        vectors = [t.summary.template.vector for t in group if t.summary.template is not None]
        if match.doc_id is not None or not vectors:
            continue
        probe = np.mean(vectors, axis=0)
        probe = probe / max(float(np.linalg.norm(probe)), 1e-12)
        row = _mode_row([t.summary.row for t in group])
        for i in matched:
            target = groups[i]
            other = _mode_row([t.summary.row for t in target])
            if row is not None and other is not None and abs(row - other) > 1:
                continue
            if any(a.summary.track.overlaps(b.summary.track) for a in group for b in target):
                continue
            doc = matches[i].doc_id
            assert doc is not None
            score = float(probe @ references[doc].vector)
            if score >= threshold:
                candidates.append((score, u, i))
    done: set[int] = set()
    for _score, u, i in sorted(candidates, reverse=True):
        if u in done or any(a.summary.track.overlaps(b.summary.track) for a in groups[u] for b in out[i]):
            continue  # taken already, or two faces at once with what joined that occupant before
        out[i].extend(groups[u])
        out[u] = []
        done.add(u)
    return out


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
        printed: PrintedFaceRule | None = None,
        gallery: Gallery | None = None,
        candidates: CandidateSource | None = None,
    ) -> None:
        self.detector = detector
        self.quality = quality
        self.embedder = embedder
        self.lane = lane or LaneSettings()
        self.tracker = tracker or TrackerConfig()
        self.rows = rows or RowModel()
        self.printed = printed or PrintedFaceRule()
        self.candidates = candidates
        self._lists_memo: tuple[CandidateQuery, tuple[CandidateList, ...]] | None = None
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
    def from_settings(
        cls, settings: Settings, store: ModelStore | None = None, candidates: CandidateSource | None = None
    ) -> LanePipeline:
        """The pipeline of ``settings.lane``: its detector and embedder (default: the detection and embedding
        sections'), its quality profile, the gallery of the embedder's model version under
        ``settings.data_dir`` (which must exist: enrol documents first), its calibrated thresholds and
        (``candidates``) where its ledger lists come from."""
        from laneface.detection.factory import build_detector
        from laneface.embedding.factory import build_embedder
        from laneface.gallery.store import Gallery, gallery_config
        from laneface.models import ModelStore
        from laneface.quality import QualityAssessor

        lane = settings.lane
        store = store or ModelStore.from_settings(settings)
        det = build_detector(lane.detector or settings.detection.detector, store, settings.detection)
        emb = build_embedder(lane.embedder or settings.embedding.embedder, store, settings.embedding)
        quality = QualityAssessor.from_config(lane.profile)
        gallery = Gallery.open(settings.data_dir, emb.model_version, config=gallery_config(settings), create=False)
        try:
            matcher = Matcher.for_gallery(gallery, settings.data_dir, lane_policy(lane))
            return cls(det, quality, emb, matcher, lane, gallery=gallery, candidates=candidates)
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

    def _embed(self, shots: list[Shot], cache: _ShotCache) -> list[Template]:
        """A template per shot, each embedded on its own once per passage (so the result does not depend on
        which shots were embedded together, nor on when: a streamed passage embeds some shots early)."""
        out = []
        for s in shots:
            template = cache.templates.get(s.candidate)
            if template is None:
                crops = self.embedder.crops(s.candidate.patch_rgb, s.candidate.face)
                template = self.embedder.embed(crops)[0]
                cache.templates[s.candidate] = template
            out.append(template)
        return out

    def _assess(self, candidates: list[FaceCandidate], cache: _ShotCache) -> list[Shot]:
        """The candidates assessed (once per passage each), best first."""
        shots = []
        for c in candidates:
            shot = cache.shots.get(c)
            if shot is None:
                shot = cache.shots[c] = Shot(c, self.quality.assess(c.patch_rgb, c.face)[0])
            shots.append(shot)
        return sorted(shots, key=rank_key, reverse=True)

    def _occupant(self, members: list[TrackResult], starts: dict[str, tuple[float, str | None]]) -> Occupant:
        shots = sorted((s for m in members for s in m.shots), key=rank_key, reverse=True)
        best = shots[0] if shots else None
        passing = sorted(
            ((s, t) for m in members for s, t in m.embedded if s.passed), key=lambda st: rank_key(st[0]), reverse=True
        )[: self.lane.shots_per_occupant]
        template = None
        if best is not None and best.passed and passing:
            template = aggregate_templates([t for _, t in passing], self._weights([s for s, _ in passing]))
        captured: tuple[float, str | None] | None = None
        for shot in shots:  # the earliest shot that passes, in the passage's time
            if shot.passed:
                start, zone = starts[shot.candidate.camera]
                at = (start + shot.candidate.timestamp_s, zone)
                captured = at if captured is None or at[0] < captured[0] else captured
        return Occupant(
            row=_mode_row([m.summary.row for m in members]),
            first_seen_s=min(m.summary.track.points[0].timestamp_s for m in members),
            best=best,
            template=template,
            cameras=tuple(sorted({m.summary.track.camera for m in members})),
            tracks=len(members),
            captured_at_s=None if captured is None else captured[0],
            capture_zone=None if captured is None else captured[1],
            members=frozenset((m.summary.track.camera, m.summary.track.track_id) for m in members),
        )

    # ------------------------------------------------------------------ entry points
    def process(
        self, passage_dir: Path | str, events: EventSink | None = None, prompts: PromptFeed | None = None
    ) -> PassageResult:
        """Read, validate and process one passage directory
        (:class:`~laneface.errors.InvalidPassageError` / :class:`~laneface.errors.InvalidVideoError` on bad input);
        ``events`` receives the passage's events as they happen (:mod:`laneface.pipeline.events`); ``prompts``
        is asked between frames for the officers' prompts given since (:meth:`PassageStream.prompt`)."""
        start, cpu = time.perf_counter(), time.process_time()
        return self._process(read_passage(passage_dir), start, cpu, events, prompts)

    def process_passage(self, passage: Passage, events: EventSink | None = None) -> PassageResult:
        """Process an already validated passage."""
        return self._process(passage, time.perf_counter(), time.process_time(), events)

    def _people(self, runs: list[_CameraRun], passage: Passage) -> tuple[list[Occupant], list[OccupantMatch]]:
        """The occupants of the tracks so far, front rows first, and their identification."""
        tracks = [t for r in runs if r.broken is None for t in r.tracks()]
        starts = {r.cam.name: (r.cam.start_s, r.cam.zone) for r in runs}
        association = AssociationConfig(self.link_threshold, self.consistent_threshold)
        clusters = associate([t.summary for t in tracks], association)
        grouped = sorted(
            (
                (self._occupant(members, starts), members)
                for members in ([tracks[i] for i in cluster] for cluster in clusters)
            ),
            key=lambda om: om[0].order,
        )
        people = [o for o, _ in grouped]
        templates = [p.template for p in people]
        lists = self._lists(passage) if any(t is not None for t in templates) else ()
        matches = identify(
            self.matcher,
            templates,
            passage.documents,
            k=self.lane.one_to_n_k,
            lists=lists,
            gallery=self.lane.gallery_last,
        )
        docs = sorted({m.doc_id for m in matches if m.doc_id is not None})
        references = self.matcher.gallery.templates(docs) if docs else {}  # read once for both rules below
        merged = self._absorb(grouped, matches, references, starts)
        people = [
            o if m.doc_id is None else matched_evidence(o, members, m, references.get(m.doc_id))
            for o, members, m in merged
        ]
        return people, [m for _, _, m in merged]

    def _absorb(
        self,
        grouped: list[tuple[Occupant, list[TrackResult]]],
        matches: list[OccupantMatch],
        references: Mapping[str, Template],
        starts: dict[str, tuple[float, str | None]],
    ) -> list[tuple[Occupant, list[TrackResult], OccupantMatch]]:
        """Occupants no document matched joined to a matched occupant of the vehicle (:func:`absorbed`, against
        the matched documents' ``references``), which is rebuilt from all its tracks and keeps its match; front
        rows first."""
        groups = [members for _, members in grouped]
        if self.lane.absorb_fmr > 0 and references and len(groups) > len(references):
            threshold = self.matcher.thresholds.at_fmr(self.lane.absorb_fmr)
            groups = absorbed(groups, matches, references, threshold)
        out = [
            (o if len(members) == len(before) else self._occupant(members, starts), members, m)
            for (o, before), members, m in zip(grouped, groups, matches, strict=True)
            if members  # tracks are only ever added to an occupant, or all taken away
        ]
        return sorted(out, key=lambda omm: omm[0].order)

    def _lists(self, passage: Passage) -> tuple[CandidateList, ...]:
        """The ledger lists of ``passage`` (asked once per passage, and again when its plate changes)."""
        if self.candidates is None or not self.lane.candidate_lists:
            return ()
        query = CandidateQuery(
            passage.lane, passage.direction, passage.started_at, passage.plate, self.lane.candidate_lists
        )
        if self._lists_memo is None or self._lists_memo[0] != query:
            self._lists_memo = (query, tuple(self.candidates.lists(query)))
        return self._lists_memo[1]

    def _process(
        self,
        passage: Passage,
        start: float,
        cpu: float,
        events: EventSink | None = None,
        prompts: PromptFeed | None = None,
    ) -> PassageResult:
        """Every camera's frames in the passage's time order (a camera's ``start_s`` plus the frame's time),
        through a :class:`PassageStream`."""
        stream = PassageStream(self, passage, events, start=(start, cpu), read=True)
        runs = stream.runs
        for _, i, _, frame in heapq.merge(*(r.timed(i) for i, r in enumerate(runs))):
            stream.feed(runs[i].cam.name, frame)
            if prompts is not None:
                for message in prompts():
                    stream.prompt(message)
        for r in runs:
            r.seen = r.source.frames_seen if r.source is not None else r.seen
        return stream.finish()

    def stream(
        self, passage: Passage, events: EventSink | None = None, frame_counts: Mapping[str, int] | None = None
    ) -> PassageStream:
        """A passage whose frames are pushed as they arrive (:meth:`PassageStream.feed`); ``passage`` gives its
        cameras (their files are not read). ``frame_counts`` (camera -> frames) lets the whole-frame searches be
        spread as for a recorded passage; without it they follow the rate alone, as on a live lane."""
        return PassageStream(self, passage, events, frame_counts=frame_counts)


PromptFeed = Callable[[], Sequence[str]]
"""Asked between frames: the officers' prompts given since it was last asked (their message names)."""


class PassageStream:
    """One passage processed as its frames come: :meth:`feed` each frame of each camera (every frame; those
    between two detections are only counted), then :meth:`finish`. With an event sink (or automatic prompts at
    a booth) the occupants so far are looked at every ``checkpoint_s`` of passage time. The result depends on
    each camera's frames, not on how the cameras' frames interleave, nor on the looks."""

    def __init__(
        self,
        pipe: LanePipeline,
        passage: Passage,
        events: EventSink | None = None,
        *,
        frame_counts: Mapping[str, int] | None = None,
        start: tuple[float, float] | None = None,
        read: bool = False,
    ) -> None:
        self.pipe, self.passage = pipe, passage
        self.t0, self.cpu0 = start if start is not None else (time.perf_counter(), time.process_time())
        cache = _ShotCache()
        counts = frame_counts or {}
        self.runs = [
            _CameraRun(pipe, cam, cache, read=read, frame_count=counts.get(cam.name)) for cam in passage.cameras
        ]
        self._by_name = {r.cam.name: r for r in self.runs}
        looks = events is not None or (pipe.lane.auto_prompt and passage.stop_s is not None)
        self.events = PassageEvents(passage, events, pipe.lane) if looks else None
        self._officer = PassageEvents(passage, None, pipe.lane) if self.events is None else self.events
        self._next_look = pipe.lane.checkpoint_s
        self.now_s = 0.0  # passage time of the latest frame fed

    def feed(self, camera: str, frame: Frame) -> None:
        """The next frame of ``camera`` (frames of one camera in order; :class:`KeyError` for an unknown one)."""
        run = self._advance(camera, frame.index, frame.timestamp_s)
        if frame.index % run.stride == 0:
            run.feed(frame)

    def wants(self, camera: str, index: int) -> bool:
        """Whether frame ``index`` of ``camera`` is one the pipeline looks at (a live lane decodes only those)."""
        return index % self._by_name[camera].stride == 0

    def skip(self, camera: str, index: int, timestamp_s: float) -> None:
        """A frame the pipeline does not look at (:meth:`wants` False), counted without its image."""
        self._advance(camera, index, timestamp_s)

    def _advance(self, camera: str, index: int, timestamp_s: float) -> _CameraRun:
        run = self._by_name[camera]
        at = run.cam.start_s + timestamp_s
        self.now_s = max(self.now_s, at)
        if self.events is not None and at >= self._next_look:
            step = self.pipe.lane.checkpoint_s
            self.events.update(self._next_look, *self.pipe._people(self.runs, self.passage))
            self._next_look = (math.floor(at / step) + 1) * step
        run.seen = max(run.seen, index + 1)
        return run

    def revise(
        self, *, documents: Sequence[str] | None = None, camera_starts: Mapping[str, float] | None = None
    ) -> None:
        """What a live passage learns while it happens: the documents read (at the booth; they replace the
        passage's), and when a camera that starts late begins (a booth camera, at the stop), before its first
        frame (:class:`ValueError` after it)."""
        passage = self.passage
        if camera_starts:
            specs = []
            for cam in passage.cameras:
                start = camera_starts.get(cam.name)
                if start is not None and start != cam.start_s:
                    run = self._by_name[cam.name]
                    if run.seen:
                        raise ValueError(f"camera {cam.name!r} has frames already: its start cannot move")
                    cam = replace(cam, start_s=float(start))
                    run.cam = cam
                specs.append(cam)
            passage = replace(passage, cameras=tuple(specs))
        if documents is not None:
            passage = replace(passage, documents=tuple(dict.fromkeys(documents)))
        self.passage = passage
        if self.events is not None:
            self.events.passage = passage
        self._officer.passage = passage

    def prompt(self, message: str, at_s: float | None = None) -> None:
        """An officer prompted the occupants (booth view) at passage time ``at_s`` (default: the latest frame's):
        a ``prompt`` event, and listed with the result's prompts."""
        self._officer.officer_prompt(self.now_s if at_s is None else at_s, message)

    def fail(self, camera: str, error: TruncatedVideoError) -> None:
        """``camera``'s video broke off: it is left out of the result (the passage still counts)."""
        self._by_name[camera].broken = error

    def finish(self) -> PassageResult:
        pipe, passage, runs = self.pipe, self.passage, self.runs
        broken = [r.broken for r in runs if r.broken is not None]
        for error in broken:  # the other cameras may still see the car: flag, not fail
            logger.warning("passage %s: %s", passage.passage_id, error)
        if broken and len(broken) == len(runs):
            raise broken[0]
        kept = [r for r in runs if r.broken is None]
        cameras = [r.result() for r in kept]
        people, matches = pipe._people(runs, passage)
        end_s = max((r.cam.start_s + c.video_s for r, c in zip(kept, cameras, strict=True)), default=0.0)
        if self.events is not None:
            self.events.finish(end_s, people, matches)
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
                captured_at_s=person.captured_at_s,
                capture_zone=person.capture_zone,
            )
            for n, (person, match) in enumerate(zip(people, matches, strict=True))
        )
        result = PassageResult(
            passage_id=passage.passage_id,
            lane=passage.lane,
            direction=passage.direction,
            documents=passage.documents,
            occupants=occupants,
            timing_s=time.perf_counter() - self.t0,
            cpu_s=time.process_time() - self.cpu0,
            video_s=end_s,
            frames_processed=sum(c.frames_processed for c in cameras),
            model_version=pipe.embedder.model_version,
            started_at=passage.started_at,
            warnings=tuple(
                f"camera {e.camera!r}: {e.decoded} of {e.declared} declared frames decoded; camera left out"
                for e in broken
            ),
            stop_s=passage.stop_s,
            prompts=tuple(sorted(self._officer.prompts, key=lambda p: p["at_s"] or 0.0)),
            faces_not_counted=sum(r.not_counted for r in kept),
            plate=passage.plate,
        )
        if self.events is not None:
            self.events.done(result)
        logger.info(
            "passage %s: %d occupants, complete %s, %.2f s for %.2f s of video",
            result.passage_id,
            result.occupant_count,
            result.complete_capture,
            result.timing_s,
            result.video_s,
        )
        return result


@dataclass
class _ShotCache:
    """Quality reports and templates of one passage's candidates, each computed once."""

    shots: dict[FaceCandidate, Shot] = field(default_factory=dict)
    templates: dict[FaceCandidate, Template] = field(default_factory=dict)


class _CameraRun:
    """One camera of a passage being processed: its frames are fed in order; its tracks, with their shots
    assessed and embedded, can be asked for at any time."""

    def __init__(
        self, pipe: LanePipeline, cam: CameraSpec, cache: _ShotCache, *, read: bool, frame_count: int | None = None
    ) -> None:
        lane = pipe.lane
        self.pipe, self.cam, self.cache = pipe, cam, cache
        self.stride = detection_stride(lane, pipe.rows, cam.fps, cam.view)
        self.full_every = full_frame_every(lane, pipe.rows, cam.fps, cam.view)
        self.tracker = FaceTracker(cam.name, pipe.tracker)
        self.buffer = CandidateBuffer(lane.candidates_per_track)
        self.processed = 0
        self.seen = 0  # frames of the camera so far (also those between two detections)
        self.width = 0
        self.source = cam.source() if read else None
        count = _frame_count(self.source) if self.source is not None else frame_count
        self.expected = -(-count // self.stride) if count is not None else 0  # processed frames the video declares
        self.planned = full_frame_indices(self.expected, self.full_every, lane.min_full_frames)
        self.broken: TruncatedVideoError | None = None
        self.not_counted = 0  # tracks left out as printed faces, at the last look

    def timed(self, order: int) -> Iterator[tuple[float, int, int, Frame]]:
        """(passage time, ``order``, frame index, frame) of every frame to process; a truncated video ends the
        camera and is kept in :attr:`broken`."""
        if self.source is None:
            return
        try:
            for frame in self.source.frames(self.stride):
                yield self.cam.start_s + frame.timestamp_s, order, frame.index, frame
        except TruncatedVideoError as exc:
            self.broken = exc

    def feed(self, frame: Frame) -> None:
        lane, pipe, tracker = self.pipe.lane, self.pipe, self.tracker
        self.width = frame.size_wh[0]
        # past the declared frames (or without a count) the rate alone decides
        processed = self.processed
        on_plan = processed in self.planned if processed < self.expected else processed % self.full_every == 0
        if on_plan or tracker.motion_unknown:
            detections = pipe._whole(frame.image_rgb, frame.size_wh)
        else:
            regions = regions_around(
                tracker.predicted_boxes(frame.index),
                frame.size_wh,
                margin=lane.roi_margin,
                min_side=lane.roi_min_side,
            )
            detections = detect_in_regions(pipe._region_detector, frame.image_rgb, regions, cut_faces="drop")
        ids = tracker.update(detections, frame.index, frame.timestamp_s)
        name = self.cam.name
        for k in range(len(detections)):
            self.buffer.offer(name, int(ids[k]), frame.index, frame.timestamp_s, frame.image_rgb, detections, k)
        self.processed += 1

    def tracks(self) -> list[TrackResult]:
        """The camera's tracks so far (the tracker keeps going: this can be asked for again)."""
        pipe, cam = self.pipe, self.cam
        tracks = self.tracker.finish()
        if pipe.lane.reject_printed:
            kept = [t for t, why in zip(tracks, printed_faces(tracks, pipe.printed), strict=True) if why is None]
            self.not_counted = len(tracks) - len(kept)
            tracks = kept
        rows = estimate_rows(tracks, cam.view, pipe.rows)
        sides = estimate_sides(tracks, cam.view, self.width, pipe.rows)
        out: list[TrackResult] = []
        for track, row, side in zip(tracks, rows, sides, strict=True):
            shots = pipe._assess(self.buffer.candidates(cam.name, track.track_id), self.cache)
            chosen = shots[: pipe.lane.shots_per_track]
            if chosen and chosen[0].passed:
                chosen = [s for s in chosen if s.passed]
            templates = pipe._embed(chosen, self.cache)
            template = aggregate_templates(templates, pipe._weights(chosen)) if templates else None
            summary = TrackSummary(track, cam.view, template, row, side)
            out.append(TrackResult(summary, tuple(shots), tuple(zip(chosen, templates, strict=True))))
        return out

    def result(self) -> CameraResult:
        tracks = self.tracks()
        logger.info(
            "camera %s: %d frames processed (stride %d), %d tracks",
            self.cam.name,
            self.processed,
            self.stride,
            len(tracks),
        )
        return CameraResult(tuple(tracks), self.seen / self.cam.fps, self.processed)

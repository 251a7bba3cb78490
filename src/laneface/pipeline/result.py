"""What the lane pipeline returns for one passage, and its one serialisation.

:meth:`PassageResult.as_json` gives the ``laneface run`` line (:class:`PassageLine`); ``bench lane`` scores
those lines and :mod:`laneface.edge.mapping` builds the service's body from them, so rounding and the
handling of non-finite numbers are decided here once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, TypedDict

from laneface.pipeline.identify import IdentifyMode, OccupantMatch, Stage
from laneface.plates import PlateRead
from laneface.selection import Shot
from laneface.types import Decision, Direction

__all__ = [
    "BestShotLine",
    "FewScoreLine",
    "MatchLine",
    "OccupantLine",
    "OccupantResult",
    "PassageLine",
    "PassageResult",
    "PlateLine",
    "PromptLine",
    "finite",
    "match_line",
]

SCORE_DIGITS = 4  # similarity scores and thresholds
QUALITY_DIGITS = 2  # unified quality, 0-100
SECONDS_DIGITS = 3  # timings and timestamps
MAX_PROMPTS = 64  # prompts listed per passage (the service takes as many)
PIXEL_DIGITS = 1  # boxes


def finite(value: float | None, digits: int) -> float | None:
    """``value`` rounded to ``digits``, or ``None`` when it is missing or not finite (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


class FewScoreLine(TypedDict):
    doc_id: str
    score: float | None


class MatchLine(TypedDict):
    doc_id: str | None
    score: float | None
    decision: Decision
    mode: IdentifyMode | None
    threshold: float | None
    few_scores: list[FewScoreLine]
    stage: Stage | None  # documents, vehicle, open_stays or gallery: the list that decided
    list_size: int | None  # the enrolled documents of that list


class BestShotLine(TypedDict):
    camera: str
    frame_index: int
    timestamp_s: float | None
    box_xyxy: list[float | None]  # frame coordinates
    failed: list[str]  # requirements of the quality profile not met


class OccupantLine(TypedDict):
    occupant_id: int
    row: int | None
    quality: float  # 0-100
    quality_passed: bool
    match: MatchLine
    cameras: list[str]
    tracks: int
    best_shot: BestShotLine | None
    captured_at_s: NotRequired[float | None]  # passage time of the first shot that passes; lanes with zones
    capture_zone: NotRequired[str | None]


class PromptLine(TypedDict):
    at_s: float | None  # passage time
    source: str  # "auto" | "officer"
    missing: int | None  # seats still missing when it was given (an automatic prompt)
    message: NotRequired[str]  # an officer's prompt: which one (the service's prompt names)


class PlateLine(TypedDict):
    text: str
    region: str | None
    confidence: float


class PassageLine(TypedDict):
    passage_id: str
    occupant_count: int
    complete_capture: bool
    occupants: list[OccupantLine]
    timing_s: float | None
    cpu_s: float | None
    video_s: float | None
    frames_processed: int
    lane: str
    direction: Direction
    documents: list[str]
    model_version: str
    started_at: str  # ISO 8601, from passage.json: the service's record needs it
    warnings: NotRequired[list[str]]  # only when something was left out (a corrupt camera video)
    stop_s: NotRequired[float | None]  # lanes with a booth: when the vehicle stopped there (passage time)
    stop_to_complete_s: NotRequired[float | None]  # from the stop to the last occupant's capture (None: incomplete)
    prompts: NotRequired[list[PromptLine]]
    faces_not_counted: NotRequired[int]  # camera tracks left out as printed faces (only when some were)
    plate: NotRequired[PlateLine]  # the plate reader's read (only when the lane has one)


def match_line(match: OccupantMatch) -> MatchLine:
    return {
        "doc_id": match.doc_id,
        "score": finite(match.score, SCORE_DIGITS),
        "decision": match.decision,
        "mode": match.mode,
        "threshold": finite(match.threshold, SCORE_DIGITS),
        "few_scores": [{"doc_id": d, "score": finite(s, SCORE_DIGITS)} for d, s in match.few_scores],
        "stage": match.stage,
        "list_size": match.list_size,
    }


def _best_shot_line(shot: Shot) -> BestShotLine:
    c = shot.candidate
    return {
        "camera": c.camera,
        "frame_index": c.frame_index,
        "timestamp_s": finite(c.timestamp_s, SECONDS_DIGITS),
        "box_xyxy": [finite(v, PIXEL_DIGITS) for v in c.frame_box_xyxy],
        "failed": list(shot.report.failed),
    }


@dataclass(frozen=True, eq=False)
class OccupantResult:
    """One occupant: its row estimate, the quality of its best shot, its identification and where it was
    seen. ``quality`` is the unified quality score (0-100) of the best shot; ``best_shot`` is ``None`` only
    when no face of the occupant could be assessed."""

    occupant_id: int
    row: int | None
    quality: float
    quality_passed: bool
    match: OccupantMatch
    cameras: tuple[str, ...]
    tracks: int
    best_shot: Shot | None = None
    captured_at_s: float | None = None  # passage time of its earliest shot that passes the profile
    capture_zone: str | None = None  # the zone of that shot's camera (lanes with zones)

    def as_json(self) -> OccupantLine:
        """Quality clamped to 0-100 (0 when unknown)."""
        quality = finite(self.quality, QUALITY_DIGITS)
        line: OccupantLine = {
            "occupant_id": self.occupant_id,
            "row": self.row,
            "quality": 0.0 if quality is None else min(100.0, max(0.0, quality)),
            "quality_passed": bool(self.quality_passed),
            "match": match_line(self.match),
            "cameras": list(self.cameras),
            "tracks": self.tracks,
            "best_shot": None if self.best_shot is None else _best_shot_line(self.best_shot),
        }
        if self.capture_zone is not None:
            line["captured_at_s"] = finite(self.captured_at_s, SECONDS_DIGITS)
            line["capture_zone"] = self.capture_zone
        return line


@dataclass(frozen=True, eq=False)
class PassageResult:
    """The outcome of one passage.

    ``complete_capture`` is true when at least one occupant was found and every occupant has a best shot
    that passes the quality profile. ``timing_s`` is the wall-clock time of :meth:`LanePipeline.process`
    (reading, decoding, everything), ``cpu_s`` its process CPU time, ``video_s`` the duration of the
    longest camera's video (frames / fps). ``started_at`` is the passage's start (its ``passage.json``).
    ``warnings`` name what was left out of a result that is still usable (a camera whose video is corrupt).
    """

    passage_id: str
    lane: str
    direction: Direction
    documents: tuple[str, ...]
    occupants: tuple[OccupantResult, ...]
    timing_s: float
    cpu_s: float
    video_s: float
    frames_processed: int
    model_version: str
    started_at: datetime
    warnings: tuple[str, ...] = ()
    stop_s: float | None = None  # lanes with a booth: when the vehicle stopped there
    prompts: tuple[PromptLine, ...] = ()
    faces_not_counted: int = 0  # camera tracks left out as printed faces (shirts, photos, screens)
    plate: PlateRead | None = None  # the plate reader's read (passage.json)

    @property
    def occupant_count(self) -> int:
        return len(self.occupants)

    @property
    def stop_to_complete_s(self) -> float | None:
        """Seconds from the booth stop until every occupant was captured (0 when all were before it);
        ``None`` without a stop or a complete capture."""
        if self.stop_s is None or not self.complete_capture:
            return None
        last = max(o.captured_at_s if o.captured_at_s is not None else math.inf for o in self.occupants)
        return max(0.0, last - self.stop_s) if math.isfinite(last) else None

    @property
    def complete_capture(self) -> bool:
        return bool(self.occupants) and all(o.quality_passed for o in self.occupants)

    def as_json(self) -> PassageLine:
        """The ``laneface run`` line: the contract's keys first, then details."""
        line: PassageLine = {
            "passage_id": self.passage_id,
            "occupant_count": self.occupant_count,
            "complete_capture": self.complete_capture,
            "occupants": [o.as_json() for o in self.occupants],
            "timing_s": finite(self.timing_s, SECONDS_DIGITS),
            "cpu_s": finite(self.cpu_s, SECONDS_DIGITS),
            "video_s": finite(self.video_s, SECONDS_DIGITS),
            "frames_processed": self.frames_processed,
            "lane": self.lane,
            "direction": self.direction,
            "documents": list(self.documents),
            "model_version": self.model_version,
            "started_at": self.started_at.isoformat(),
        }
        if self.warnings:
            line["warnings"] = list(self.warnings)
        if self.stop_s is not None:
            line["stop_s"] = finite(self.stop_s, SECONDS_DIGITS)
            line["stop_to_complete_s"] = finite(self.stop_to_complete_s, SECONDS_DIGITS)
            line["prompts"] = list(self.prompts)
        if self.faces_not_counted:
            line["faces_not_counted"] = self.faces_not_counted
        if self.plate is not None:
            p = self.plate
            line["plate"] = {"text": p.text, "region": p.region, "confidence": round(float(p.confidence), 3)}
        return line

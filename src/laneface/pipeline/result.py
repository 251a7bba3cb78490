"""What the lane pipeline returns for one passage."""

from __future__ import annotations

from dataclasses import dataclass

from laneface.pipeline.identify import OccupantMatch
from laneface.selection import Shot
from laneface.types import Direction

__all__ = ["OccupantResult", "PassageResult"]


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

    def as_json(self) -> dict[str, object]:
        shot = self.best_shot
        return {
            "occupant_id": self.occupant_id,
            "row": self.row,
            "quality": round(self.quality, 1),
            "quality_passed": self.quality_passed,
            "match": self.match.as_json(),
            "cameras": list(self.cameras),
            "tracks": self.tracks,
            "best_shot": None
            if shot is None
            else {
                "camera": shot.candidate.camera,
                "frame_index": shot.candidate.frame_index,
                "timestamp_s": round(shot.candidate.timestamp_s, 3),
                "box_xyxy": [
                    round(float(v) + float(shot.candidate.origin_xy[i % 2]), 1)
                    for i, v in enumerate(shot.candidate.face.boxes_xyxy[0])
                ],
                "failed": list(shot.report.failed),
            },
        }


@dataclass(frozen=True, eq=False)
class PassageResult:
    """The outcome of one passage.

    ``complete_capture`` is true when at least one occupant was found and every occupant has a best shot
    that passes the quality profile. ``timing_s`` is the wall-clock time of :meth:`LanePipeline.process`
    (reading, decoding, everything), ``cpu_s`` its process CPU time, ``video_s`` the duration of the
    longest camera's video (frames / fps).
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

    @property
    def occupant_count(self) -> int:
        return len(self.occupants)

    @property
    def complete_capture(self) -> bool:
        return bool(self.occupants) and all(o.quality_passed for o in self.occupants)

    def as_json(self) -> dict[str, object]:
        """The ``laneface run`` line: the contract's keys first, then details."""
        return {
            "passage_id": self.passage_id,
            "occupant_count": self.occupant_count,
            "complete_capture": self.complete_capture,
            "occupants": [o.as_json() for o in self.occupants],
            "timing_s": round(self.timing_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "video_s": round(self.video_s, 3),
            "frames_processed": self.frames_processed,
            "lane": self.lane,
            "direction": self.direction,
            "documents": list(self.documents),
            "model_version": self.model_version,
        }

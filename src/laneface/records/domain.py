"""Values going into and out of the records layer (independent of HTTP schemas and of ORM rows)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from laneface.plates import PlateRead
from laneface.types import Decision, Direction

__all__ = [
    "CrossingFilter",
    "CrossingView",
    "DocumentView",
    "OccupantSubmission",
    "OccupantView",
    "PassageReceipt",
    "PassageSubmission",
    "ReviewView",
]

ReviewDecision = Literal["confirmed", "rejected", "referred"]


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class OccupantSubmission:
    occupant_id: str
    row: int | None
    quality: float
    quality_passed: bool
    decision: Decision
    doc_id: str | None
    score: float | None
    model_version: str
    image_jpeg: bytes | None = field(default=None, repr=False)
    template: bytes | None = field(default=None, repr=False)
    threshold: float | None = None  # the lane's threshold for ``score``
    stage: str | None = None  # the candidate list that decided: documents, vehicle, open_stays, gallery
    list_size: int | None = None  # the enrolled documents of that list

    def fingerprint(self) -> dict[str, object]:
        # the threshold and stage only when the lane sent them: bodies stored before they existed keep their hash
        extra: dict[str, object] = {} if self.threshold is None else {"threshold": self.threshold}
        if self.stage is not None:
            extra |= {"stage": self.stage, "list_size": self.list_size}
        return extra | {
            "occupant_id": self.occupant_id,
            "row": self.row,
            "quality": self.quality,
            "quality_passed": self.quality_passed,
            "decision": self.decision,
            "doc_id": self.doc_id,
            "score": self.score,
            "model_version": self.model_version,
            "image_sha256": _digest(self.image_jpeg),
            "template_sha256": _digest(self.template),
        }


@dataclass(frozen=True)
class PassagePrompt:
    """A prompt given to a vehicle's occupants while it passed: automatic (the lane's rule) or an officer's."""

    source: str  # "auto" | "officer"
    at_s: float | None = None  # passage time, when the lane knows it
    missing: int | None = None  # seats still missing when it was given
    message: str | None = None  # an officer's prompt: which one

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "at_s": self.at_s, "missing": self.missing, "message": self.message}


@dataclass(frozen=True)
class PassageSubmission:
    """What a lane reports for one passage. ``(passage_id, lane)`` is the idempotency key."""

    passage_id: str
    lane: str
    direction: Direction
    started_at: datetime
    occupant_count: int
    complete_capture: bool
    occupants: tuple[OccupantSubmission, ...]
    timing_s: float | dict[str, float] | None = None
    prompts: tuple[PassagePrompt, ...] = ()
    plate: PlateRead | None = None  # the lane's plate reader
    faces_not_counted: int = 0  # camera tracks left out as printed faces (shirts, photos, screens)

    def body_sha256(self) -> str:
        """Hash of the whole body (images by their own hash): equal bodies give equal hashes."""
        doc = {
            "passage_id": self.passage_id,
            "lane": self.lane,
            "direction": self.direction,
            "started_at": self.started_at.isoformat(),
            "occupant_count": self.occupant_count,
            "complete_capture": self.complete_capture,
            "timing_s": self.timing_s,
            "occupants": [o.fingerprint() for o in self.occupants],
        }
        if self.prompts:  # only when there are some: bodies stored before prompts existed keep their hash
            doc["prompts"] = [p.as_json() for p in self.prompts]
        if self.plate is not None:
            doc["plate"] = {"text": self.plate.text, "region": self.plate.region, "confidence": self.plate.confidence}
        if self.faces_not_counted:  # only when some were: earlier bodies keep their hash
            doc["faces_not_counted"] = self.faces_not_counted
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PassageReceipt:
    crossing_id: int
    passage_id: str
    lane: str
    received_at: datetime
    occupants: int
    images_withheld: int


@dataclass(frozen=True)
class ReviewView:
    id: int
    occupant_pk: int
    decision: str
    doc_id: str | None
    officer: str
    note: str | None
    decided_at: datetime


@dataclass(frozen=True)
class OccupantView:
    id: int
    occupant_id: str
    row: int | None
    quality: float
    quality_passed: bool
    decision: str
    doc_id: str | None
    score: float | None
    model_version: str
    has_face_image: bool
    has_template: bool
    withheld_reason: str | None
    reviews: tuple[ReviewView, ...]
    threshold: float | None = None
    stage: str | None = None
    list_size: int | None = None


@dataclass(frozen=True)
class CrossingView:
    id: int
    passage_id: str
    lane: str
    direction: str
    started_at: datetime
    received_at: datetime
    occupant_count: int
    complete_capture: bool
    timing_s: float | dict[str, float] | None
    occupants: tuple[OccupantView, ...]
    prompts: tuple[PassagePrompt, ...] = ()
    plate: PlateRead | None = None
    faces_not_counted: int = 0


@dataclass(frozen=True)
class CrossingFilter:
    since: datetime | None = None
    until: datetime | None = None
    lane: str | None = None
    direction: Direction | None = None
    doc_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class DocumentView:
    doc_id: str
    doc_type: str
    enrolled: bool
    traveller_ref: str
    citizenship: str
    biometric_opt_out: bool
    quality_flags: tuple[str, ...] = ()
    has_photo: bool = False

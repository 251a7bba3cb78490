"""Crossings as officers see them: metadata, scores and decisions; never image or template bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from laneface.api.schemas.common import DocId, PlainText

__all__ = ["CrossingList", "CrossingPublic", "OccupantPublic", "ReviewCreate", "ReviewPublic"]


class ReviewCreate(BaseModel):
    model_config = ConfigDict(strict=True)

    decision: Literal["confirmed", "rejected", "referred"]
    doc_id: DocId | None = Field(default=None, description="Confirmed document; default: the lane's candidate.")
    note: PlainText | None = None


class ReviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occupant_pk: int
    decision: str
    doc_id: str | None
    officer: str
    note: str | None
    decided_at: datetime


class OccupantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Occupant record id (for the face-image and review endpoints).")
    occupant_id: str
    row: int | None
    quality: float
    quality_passed: bool
    decision: str
    doc_id: str | None
    score: float | None
    threshold: float | None = Field(default=None, description="The lane's threshold for the score.")
    stage: str | None = Field(default=None, description="The candidate list that decided the match.")
    list_size: int | None = Field(default=None, description="The enrolled documents of that list.")
    model_version: str
    has_face_image: bool
    has_template: bool
    withheld_reason: str | None
    reviews: list[ReviewPublic]


class PassagePromptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: str
    at_s: float | None
    missing: int | None
    message: str | None


class PlatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str
    region: str | None
    confidence: float


class CrossingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    passage_id: str
    lane: str
    direction: str
    started_at: datetime
    received_at: datetime
    occupant_count: int
    complete_capture: bool
    timing_s: float | dict[str, float] | None
    occupants: list[OccupantPublic]
    prompts: list[PassagePromptPublic] = Field(default_factory=list, description="Prompts given while it passed.")
    plate: PlatePublic | None = Field(default=None, description="The lane's plate read.")
    faces_not_counted: int = Field(
        default=0, description="Camera tracks the lane left out as printed faces (shirts, photos, screens)."
    )


class CrossingList(BaseModel):
    items: list[CrossingPublic]
    limit: int
    offset: int

"""The officers' review queue: occupants waiting for adjudication, with their passage."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReviewQueueItemPublic", "ReviewQueuePublic"]


class ReviewQueueItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    occupant_pk: int = Field(description="Occupant record id (for the face-image and review endpoints).")
    occupant_id: str
    row: int | None
    quality: float
    quality_passed: bool
    decision: str
    doc_id: str | None = Field(description="The lane's best candidate document, if any (below threshold).")
    score: float | None
    threshold: float | None = Field(default=None, description="The lane's threshold for the score.")
    model_version: str
    has_face_image: bool
    withheld_reason: str | None
    crossing_id: int
    passage_id: str
    lane: str
    direction: str
    started_at: datetime


class ReviewQueuePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[ReviewQueueItemPublic]
    total: int = Field(description="Occupants waiting under the same filter (all pages).")
    limit: int
    offset: int

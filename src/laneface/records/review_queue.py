"""The officers' review queue: occupants the lane could not confirm (``no_match``, ``not_captured``) that no
officer has reviewed yet, newest passage first. Any review, whatever its decision, takes an occupant out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from laneface.records.tables import BiometricBlob, Crossing, Occupant, Review

__all__ = ["QUEUED_DECISIONS", "QueueDecision", "ReviewQueueItem", "ReviewQueuePage", "review_queue"]

QueueDecision = Literal["no_match", "not_captured"]
QUEUED_DECISIONS: tuple[QueueDecision, ...] = ("no_match", "not_captured")


@dataclass(frozen=True)
class ReviewQueueItem:
    """One occupant waiting for adjudication, with the passage it was seen in."""

    occupant_pk: int
    occupant_id: str
    row: int | None
    quality: float
    quality_passed: bool
    decision: str
    doc_id: str | None
    score: float | None
    model_version: str
    has_face_image: bool
    withheld_reason: str | None
    crossing_id: int
    passage_id: str
    lane: str
    direction: str
    started_at: datetime
    threshold: float | None = None


@dataclass(frozen=True)
class ReviewQueuePage:
    items: tuple[ReviewQueueItem, ...]
    total: int
    limit: int
    offset: int


def _conditions(decisions: Sequence[QueueDecision], lane: str | None) -> list[ColumnElement[bool]]:
    unreviewed = ~select(Review.id).where(Review.occupant_pk == Occupant.id).exists()
    conditions = [Occupant.decision.in_(list(decisions)), unreviewed]
    if lane is not None:
        conditions.append(Crossing.lane == lane)
    return conditions


def review_queue(
    session: Session,
    *,
    lane: str | None = None,
    decisions: Sequence[QueueDecision] = QUEUED_DECISIONS,
    limit: int = 50,
    offset: int = 0,
) -> ReviewQueuePage:
    """One page of the queue (newest passage first) and the queue's total length under the same filter."""
    conditions = _conditions(decisions or QUEUED_DECISIONS, lane)
    has_image = (
        select(BiometricBlob.id)
        .where(BiometricBlob.occupant_pk == Occupant.id, BiometricBlob.kind == "face_image")
        .exists()
        .label("has_image")
    )
    query = (
        select(Occupant, Crossing, has_image)
        .join(Crossing, Occupant.crossing_id == Crossing.id)
        .where(*conditions)
        .order_by(Crossing.started_at.desc(), Crossing.id.desc(), Occupant.id)
        .limit(limit)
        .offset(offset)
    )
    items = tuple(
        ReviewQueueItem(
            occupant_pk=o.id,
            occupant_id=o.occupant_id,
            row=o.row,
            quality=o.quality,
            quality_passed=o.quality_passed,
            decision=o.decision,
            doc_id=o.doc_id,
            score=o.score,
            threshold=o.threshold,
            model_version=o.model_version,
            has_face_image=bool(image),
            withheld_reason=o.withheld_reason,
            crossing_id=c.id,
            passage_id=c.passage_id,
            lane=c.lane,
            direction=c.direction,
            started_at=c.started_at,
        )
        for o, c, image in session.execute(query)
    )
    total = session.scalar(
        select(func.count(Occupant.id)).join(Crossing, Occupant.crossing_id == Crossing.id).where(*conditions)
    )
    return ReviewQueuePage(items=items, total=int(total or 0), limit=limit, offset=offset)

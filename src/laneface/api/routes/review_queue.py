"""Officers: the review queue (occupants the lane could not confirm and nobody has reviewed yet)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from laneface.api.deps import records_of, require
from laneface.api.errors import ERROR_RESPONSES
from laneface.api.roles import Caller
from laneface.api.schemas.common import Ident
from laneface.api.schemas.review_queue import ReviewQueueItemPublic, ReviewQueuePublic
from laneface.records.review_queue import QUEUED_DECISIONS, QueueDecision
from laneface.records.service import RecordsService

__all__ = ["router"]

router = APIRouter(tags=["officers"])


@router.get(
    "/v1/review-queue",
    responses=ERROR_RESPONSES,
    summary="Occupants awaiting review: no_match / not_captured without a review, newest passage first",
)
def get_review_queue(
    _caller: Annotated[Caller, Depends(require("officer"))],
    records: Annotated[RecordsService, Depends(records_of)],
    lane: Annotated[Ident | None, Query()] = None,
    decision: Annotated[list[QueueDecision] | None, Query(max_length=2, description="Default: both.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewQueuePublic:
    decisions = tuple(dict.fromkeys(decision or QUEUED_DECISIONS))
    page = records.review_queue(lane=lane, decisions=decisions, limit=limit, offset=offset)
    return ReviewQueuePublic(
        items=[ReviewQueueItemPublic.model_validate(i) for i in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )

"""Officers, auditors and admins: daily series for the statistics charts (UTC days)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from laneface.api.deps import records_of, require
from laneface.api.errors import ERROR_RESPONSES
from laneface.api.roles import Caller
from laneface.api.schemas.common import Instant
from laneface.api.schemas.trends import CaptureByRowPublic, ReviewDayPublic, ReviewStatsPublic, RowCapturePublic
from laneface.records.service import RecordsService

__all__ = ["router"]

router = APIRouter(tags=["ledger"])
Reader = Annotated[Caller, Depends(require("officer", "auditor", "admin"))]
Records = Annotated[RecordsService, Depends(records_of)]
Since = Annotated[Instant | None, Query(description="Default: 30 days before 'until'.")]
Until = Annotated[Instant | None, Query(description="Default: now.")]
DEFAULT_WINDOW = timedelta(days=30)


def _window(records: RecordsService, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = until or records.clock()
    return since or end - DEFAULT_WINDOW, end


@router.get(
    "/v1/stats/capture-by-row",
    responses=ERROR_RESPONSES,
    summary="Occupants and captured occupants per day and seat row",
)
def capture_by_row(_caller: Reader, records: Records, since: Since = None, until: Until = None) -> CaptureByRowPublic:
    start, end = _window(records, since, until)
    rows = records.capture_by_row(since=start, until=end)
    return CaptureByRowPublic(since=start, until=end, rows=[RowCapturePublic.model_validate(r) for r in rows])


@router.get(
    "/v1/stats/reviews",
    responses=ERROR_RESPONSES,
    summary="Officers' reviews per day, with the reviews that overturned a lane match",
)
def review_stats(_caller: Reader, records: Records, since: Since = None, until: Until = None) -> ReviewStatsPublic:
    start, end = _window(records, since, until)
    days = records.review_days(since=start, until=end)
    return ReviewStatsPublic(since=start, until=end, days=[ReviewDayPublic.model_validate(d) for d in days])

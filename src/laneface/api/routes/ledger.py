"""Officers: document history, stays and overstays; statistics for officers, auditors and admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from laneface.api.deps import records_of, require
from laneface.api.errors import ERROR_RESPONSES, ErrorBody
from laneface.api.roles import Caller
from laneface.api.schemas.common import DocId, Ident, Instant
from laneface.api.schemas.ledger import DocumentHistoryPublic, StatsPublic, StatsRowPublic, TravellerStaysPublic
from laneface.records.service import RecordsService
from laneface.records.stats import GroupKey

__all__ = ["router"]

router = APIRouter(tags=["ledger"])
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "Not found"},
}
Officer = Annotated[Caller, Depends(require("officer"))]
Records = Annotated[RecordsService, Depends(records_of)]


@router.get("/v1/documents/{doc_id}/history", responses=_NOT_FOUND, summary="Confirmed movements of a document")
def document_history(doc_id: Annotated[DocId, Path()], _caller: Officer, records: Records) -> DocumentHistoryPublic:
    return DocumentHistoryPublic.model_validate(records.document_history(doc_id))


@router.get("/v1/travellers/{traveller_ref}/stays", responses=_NOT_FOUND, summary="Stays and overstay of a traveller")
def traveller_stays(
    traveller_ref: Annotated[Ident, Path()],
    _caller: Officer,
    records: Records,
    at: Annotated[Instant | None, Query(description="Evaluate at this instant (default: now).")] = None,
) -> TravellerStaysPublic:
    return TravellerStaysPublic.model_validate(records.traveller_stays(traveller_ref, at))


@router.get("/v1/stats", responses=ERROR_RESPONSES, summary="Passages, occupants, capture rate, confirmations")
def stats(
    _caller: Annotated[Caller, Depends(require("officer", "auditor", "admin"))],
    records: Records,
    since: Annotated[Instant | None, Query(description="Default: 7 days before 'until'.")] = None,
    until: Annotated[Instant | None, Query(description="Default: now.")] = None,
    group_by: Annotated[list[GroupKey] | None, Query(max_length=5)] = None,
) -> StatsPublic:
    end = until or records.clock()
    start = since or end - timedelta(days=7)
    keys: list[GroupKey] = list(dict.fromkeys(group_by or ["day"]))
    rows = records.stats(since=start, until=end, group_by=keys)
    return StatsPublic(
        since=start, until=end, group_by=list(keys), rows=[StatsRowPublic.model_validate(r) for r in rows]
    )

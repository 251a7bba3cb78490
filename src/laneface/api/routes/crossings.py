"""Officers: crossings, best-shot images (every read audited) and review decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from laneface.api.deps import DENIED_BIOMETRIC, records_of, require
from laneface.api.errors import ERROR_RESPONSES, ErrorBody
from laneface.api.roles import Caller
from laneface.api.schemas.common import MAX_DB_INT, DocId, Ident, Instant
from laneface.api.schemas.crossings import CrossingList, CrossingPublic, ReviewCreate, ReviewPublic
from laneface.records.domain import CrossingFilter
from laneface.records.service import RecordsService
from laneface.types import Direction

__all__ = ["router"]

router = APIRouter(tags=["officers"])

_NOT_FOUND: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "Not found"},
}
Officer = Annotated[Caller, Depends(require("officer"))]
Records = Annotated[RecordsService, Depends(records_of)]
RecordId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


@router.get("/v1/crossings", responses=ERROR_RESPONSES, summary="List crossings (newest first)")
def list_crossings(
    _caller: Officer,
    records: Records,
    since: Annotated[Instant | None, Query()] = None,
    until: Annotated[Instant | None, Query()] = None,
    lane: Annotated[Ident | None, Query()] = None,
    direction: Annotated[Direction | None, Query()] = None,
    doc_id: Annotated[DocId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CrossingList:
    flt = CrossingFilter(
        since=since, until=until, lane=lane, direction=direction, doc_id=doc_id, limit=limit, offset=offset
    )
    items = [CrossingPublic.model_validate(v) for v in records.crossings(flt)]
    return CrossingList(items=items, limit=limit, offset=offset)


@router.get("/v1/crossings/{crossing_id}", responses=_NOT_FOUND, summary="One crossing with its occupants")
def get_crossing(crossing_id: RecordId, _caller: Officer, records: Records) -> CrossingPublic:
    return CrossingPublic.model_validate(records.crossing(crossing_id))


@router.get(
    "/v1/occupants/{occupant_pk}/face-image",
    response_class=Response,
    responses={
        **_NOT_FOUND,
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}, "description": "JPEG"},
    },
    summary="The occupant's best-shot image, for adjudication (audited)",
)
def get_face_image(
    occupant_pk: RecordId,
    caller: Annotated[Caller, Depends(require("officer", audit_denied=DENIED_BIOMETRIC))],
    records: Records,
) -> Response:
    data, content_type = records.read_face_image(occupant_pk, caller.actor)
    return Response(content=data, media_type=content_type, headers={"Cache-Control": "no-store"})


@router.get(
    "/v1/documents/{doc_id}/photo",
    response_class=Response,
    responses={
        **_NOT_FOUND,
        200: {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}, "description": "Image"},
    },
    summary="The enrolled document photo, for adjudication side by side with the best shot (audited)",
)
def get_document_photo(
    doc_id: Annotated[DocId, Path()],
    caller: Annotated[Caller, Depends(require("officer", audit_denied=DENIED_BIOMETRIC))],
    records: Records,
) -> Response:
    data, content_type = records.read_document_photo(doc_id, caller.actor)
    return Response(content=data, media_type=content_type, headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/occupants/{occupant_pk}/reviews",
    status_code=201,
    responses={**_NOT_FOUND, 409: {"model": ErrorBody, "description": "Unknown document"}},
    summary="Record an adjudication",
)
def post_review(occupant_pk: RecordId, review: ReviewCreate, caller: Officer, records: Records) -> ReviewPublic:
    view = records.review(
        occupant_pk, decision=review.decision, doc_id=review.doc_id, note=review.note, actor=caller.actor
    )
    return ReviewPublic.model_validate(view)

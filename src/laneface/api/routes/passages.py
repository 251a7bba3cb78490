"""Lanes post passages: JSON with base64 images, or multipart with the image bytes as files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from laneface.api.deps import metrics_of, records_of, require
from laneface.api.errors import ERROR_RESPONSES, ErrorBody
from laneface.api.metrics import BACKLOG_HEADER, ServiceMetrics
from laneface.api.roles import Caller
from laneface.api.schemas.passages import PassageCreate, PassageReceiptPublic
from laneface.errors import InputError
from laneface.records.service import RecordsService

router = APIRouter(prefix="/v1/passages", tags=["lanes"])

_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    200: {"model": PassageReceiptPublic, "description": "Already stored with the same body (idempotent replay)"},
    409: {"model": ErrorBody, "description": "Same passage_id and lane, different body"},
}
Lane = Annotated[Caller, Depends(require("lane"))]
Records = Annotated[RecordsService, Depends(records_of)]
Metrics = Annotated[ServiceMetrics, Depends(metrics_of)]


def _reported_backlog(request: Request) -> int | None:
    """The lane's outbox backlog header, when sent (not a declared header parameter: a schema with header
    parameters makes every other header a schema violation to fuzzers, and HTTP allows any header)."""
    value = request.headers.get(BACKLOG_HEADER)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > 1_000_000_000:
        raise RequestValidationError(
            [{"type": "int_parsing", "loc": ("header", BACKLOG_HEADER), "msg": "a count from 0 to 10^9"}]
        )
    return int(value)


Backlog = Annotated[int | None, Depends(_reported_backlog)]
_BACKLOG_DOC = (
    f"A lane may send header `{BACKLOG_HEADER}`: the records pending in its outbox (metric "
    "`laneface_lane_outbox_backlog`)."
)


def _store(
    passage: PassageCreate,
    caller: Caller,
    records: RecordsService,
    response: Response,
    metrics: ServiceMetrics,
    backlog: int | None,
    images: dict[str, bytes] | None = None,
    templates: dict[str, bytes] | None = None,
) -> PassageReceiptPublic:
    submission = passage.to_submission(images, templates)
    receipt, created = records.submit_passage(submission, caller.actor)
    response.status_code = 201 if created else 200
    if created:
        metrics.passage_stored(submission)
    if backlog is not None:
        metrics.backlog_reported(passage.lane, backlog)
    return PassageReceiptPublic.of(receipt)


@router.post(
    "", status_code=201, responses=_RESPONSES, summary="Store a passage (JSON, images base64)", description=_BACKLOG_DOC
)
def post_passage(
    passage: PassageCreate,
    caller: Lane,
    records: Records,
    response: Response,
    metrics: Metrics,
    backlog: Backlog,
) -> PassageReceiptPublic:
    return _store(passage, caller, records, response, metrics, backlog)


async def _files(uploads: list[UploadFile], what: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for upload in uploads:
        name = (upload.filename or "").strip()
        if not name or name in out:
            raise InputError(f"each {what} file must be named by a distinct occupant_id")
        out[name] = await upload.read()
    return out


@router.post(
    "/multipart",
    status_code=201,
    responses=_RESPONSES,
    summary="Store a passage (multipart, images as files)",
    description=_BACKLOG_DOC,
)
async def post_passage_multipart(
    caller: Lane,
    records: Records,
    response: Response,
    metrics: Metrics,
    backlog: Backlog,
    passage: Annotated[str, Form(description="The passage as JSON (PassageCreate), without base64 images.")],
    images: Annotated[list[UploadFile], File(description="Best-shot JPEGs; each file name is its occupant_id.")] = [],  # noqa: B006
    templates: Annotated[list[UploadFile], File(description="Templates (float32 LE); file name = occupant_id.")] = [],  # noqa: B006
) -> PassageReceiptPublic:
    try:
        parsed = PassageCreate.model_validate_json(passage)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_input=False)) from None
    by_id = {o.occupant_id for o in parsed.occupants}
    image_bytes, template_bytes = await _files(images, "image"), await _files(templates, "template")
    unknown = (set(image_bytes) | set(template_bytes)) - by_id
    if unknown:
        raise InputError(f"{len(unknown)} file(s) are not named after an occupant_id of the passage")
    return await run_in_threadpool(
        _store, parsed, caller, records, response, metrics, backlog, image_bytes, template_bytes
    )

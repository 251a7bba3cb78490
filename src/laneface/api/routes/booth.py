"""The booth: lanes post their pipeline's events while a vehicle passes; officers watch the vehicle at the
booth live (server-sent events), read the captured faces' thumbnails (audited) and prompt the occupants.

The hub (:mod:`laneface.api.booth`) lives on the event loop: these routes are ``async`` and never block it
(the audit writes, and the shared hub's database work, run in the thread pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from laneface.api.booth import BoothHub, TooManySubscribersError
from laneface.api.deps import DENIED_BIOMETRIC, records_of, require
from laneface.api.errors import ERROR_RESPONSES, ErrorBody
from laneface.api.roles import Caller
from laneface.api.schemas.booth import BoothPublic, LaneEventsAccepted, LaneEventsIn, OfficerPromptPublic, PromptCreate
from laneface.api.schemas.common import Ident
from laneface.records.audit import Actions
from laneface.records.service import RecordsService

__all__ = ["HEARTBEAT_S", "router"]

router = APIRouter(tags=["booth"])

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
Lane = Annotated[Caller, Depends(require("lane"))]
Officer = Annotated[Caller, Depends(require("officer"))]
Records = Annotated[RecordsService, Depends(records_of)]
LaneName = Annotated[Ident, Path(description="The lane's name, as its lane.toml gives it.")]
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorBody, "description": "Not found"},
}


def hub_of(request: Request) -> BoothHub:
    hub: BoothHub = request.app.state.booth
    return hub


Hub = Annotated[BoothHub, Depends(hub_of)]


@router.post(
    "/v1/lanes/{lane}/events",
    responses=ERROR_RESPONSES,
    summary="A lane's pipeline events (occupant_captured, occupant_identified, seat_missing, prompt, ...)",
    description="Live feedback for the booth view, not a record (the passage is recorded by `/v1/passages`). "
    "The answer lists the officer prompts waiting for this lane, handed over once.",
)
async def post_events(lane: LaneName, body: LaneEventsIn, _caller: Lane, hub: Hub) -> LaneEventsAccepted:
    prompts = await hub.call(hub.publish, lane, body.events)
    return LaneEventsAccepted(accepted=len(body.events), prompts=prompts)


@router.get("/v1/booth", responses=ERROR_RESPONSES, summary="Every lane's booth, most recently updated first")
async def list_booths(_caller: Officer, hub: Hub) -> list[BoothPublic]:
    return await hub.call(hub.lanes)


@router.get("/v1/booth/{lane}", responses=ERROR_RESPONSES, summary="The vehicle at a lane's booth now")
async def get_booth(lane: LaneName, _caller: Officer, hub: Hub) -> BoothPublic:
    return await hub.call(hub.snapshot, lane)


@router.get(
    "/v1/booth/{lane}/stream",
    response_class=StreamingResponse,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        503: {"model": ErrorBody, "description": "Too many open streams for this lane"},
    },
    summary="The booth live: server-sent events",
    description="Each `booth` event carries the whole booth (as `GET /v1/booth/{lane}`) and its `seq` as the "
    "event id, first at once, then after every change; a comment line every 15 s while nothing changes. "
    "The stream ends after `max_s` seconds: clients reconnect.",
)
async def stream_booth(
    lane: LaneName,
    _caller: Officer,
    hub: Hub,
    request: Request,
    max_s: Annotated[float, Query(ge=1.0, le=3600.0, description="Seconds before the stream ends.")] = 600.0,
) -> StreamingResponse:
    try:
        queue = hub.subscribe(lane)
    except TooManySubscribersError:
        raise HTTPException(503, f"too many open booth streams for lane {lane!r}") from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s

    async def events() -> AsyncIterator[str]:
        last = -1
        sent = loop.time()
        try:
            while True:
                booth = await hub.call(hub.snapshot, lane)
                if booth.seq != last:
                    last, sent = booth.seq, loop.time()
                    yield f"id: {booth.seq}\nevent: booth\ndata: {booth.model_dump_json()}\n\n"
                left = deadline - loop.time()
                if left <= 0 or await request.is_disconnected():
                    return
                # a shared hub's changes may come from another replica: look again every poll_s
                wait = min(HEARTBEAT_S if hub.poll_s is None else hub.poll_s, left)
                try:
                    await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if loop.time() - sent >= HEARTBEAT_S - 1e-3:
                        sent = loop.time()
                        yield ": keep-alive\n\n"
        finally:
            hub.unsubscribe(lane, queue)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


@router.get(
    "/v1/booth/{lane}/thumbnails/{occupant}",
    response_class=Response,
    responses={
        **_NOT_FOUND,
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}, "description": "JPEG"},
    },
    summary="The thumbnail of an occupant captured at the booth now (audited)",
)
async def get_thumbnail(
    lane: LaneName,
    occupant: Annotated[int, Path(ge=1, le=64)],
    caller: Annotated[Caller, Depends(require("officer", audit_denied=DENIED_BIOMETRIC))],
    hub: Hub,
    records: Records,
) -> Response:
    passage_id, data = await hub.call(hub.thumbnail, lane, occupant)
    await run_in_threadpool(
        records.audit,
        caller.actor,
        Actions.BIOMETRIC_READ,
        object_type="booth_occupant",
        object_id=f"{lane}/{passage_id}/{occupant}",
        details={"kind": "face_thumbnail", "purpose": "booth"},
    )
    return Response(content=data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/booth/{lane}/prompts",
    status_code=201,
    responses=ERROR_RESPONSES,
    summary="Prompt the occupants of the vehicle at the booth (audited)",
    description="The lane receives the prompt with the answer to its next events post and shows it (sign, "
    "light, voice); the prompt is listed with the passage at the booth, and the lane records it with the passage.",
)
async def post_prompt(
    lane: LaneName, body: PromptCreate, caller: Officer, hub: Hub, records: Records
) -> OfficerPromptPublic:
    prompt = await hub.call(hub.prompt, lane, body.message)
    await run_in_threadpool(
        records.audit,
        caller.actor,
        Actions.BOOTH_PROMPT,
        object_type="passage",
        object_id=f"{lane}/{prompt.passage_id}" if prompt.passage_id else lane,
        details={"message": body.message, "prompt_id": prompt.prompt_id},
    )
    return prompt

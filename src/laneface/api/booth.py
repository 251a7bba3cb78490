"""The booth hub: what each lane's pipeline reports about the vehicle passing now, for the officer's booth
view, and the prompts officers give, for the lane.

:class:`BoothHub` keeps the state in the service's memory, on its event loop (every route that touches it is
``async``): it is live feedback, not a record. The record of a passage is what the lane posts to
``/v1/passages`` when the passage ends (with every prompt given); a restarted service shows a lane's next
vehicle from its next event. :class:`SharedBoothHub` (``service.booth_shared``) keeps each lane's state in the
records database instead (encrypted, :mod:`laneface.records.booth`), so that replicas of the service on one
database show the same booth whichever replica a lane posts to and an officer watches: each change is one
transaction on the lane's row, and open streams look for changes every ``poll_s``.

A lane's vehicle (seats, thumbnails, prompts) is cleared by :meth:`BoothHub.expire` once nothing has changed
it for ``service.booth_keep_s``; the service runs it every minute or so, so face thumbnails do not outlive the
vehicle at the booth by much, even on a lane closed for the night.

Bounds: at most ``max_lanes`` lanes (the least recently updated is forgotten), 64 occupants and 64 prompts per
passage, ``max_subscribers`` open streams per lane, 16 officer prompts waiting for a lane.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import secrets
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from laneface.api.schemas.booth import (
    BoothPublic,
    BoothSeatPublic,
    LaneEventIn,
    OfficerPromptPublic,
    PromptMessage,
    PromptPublic,
)
from laneface.errors import InputError, RecordNotFoundError
from laneface.records.clock import Clock, system_clock
from laneface.records.service import RecordsService

__all__ = ["PROMPT_MESSAGES", "BoothHub", "SharedBoothHub", "TooManySubscribersError"]

T = TypeVar("T")

PROMPT_MESSAGES: dict[PromptMessage, str] = {
    "look_at_camera": "Everyone, please look at the camera",
    "remove_sunglasses": "Please remove sunglasses",
    "remove_hat": "Please remove hats and caps",
    "lower_window": "Please lower the rear windows",
}
_MAX_PROMPTS = 64
_MAX_WAITING = 16
_MAX_SEATS = 64


class TooManySubscribersError(Exception):
    """A lane has ``max_subscribers`` open booth streams."""


@dataclass
class _Seat:
    occupant: int
    row: int | None = None
    cameras: list[str] = field(default_factory=list)
    quality: float | None = None
    captured_at_s: float | None = None
    capture_zone: str | None = None
    doc_id: str | None = None
    score: float | None = None
    mode: str | None = None
    thumbnail: bytes | None = None

    def public(self) -> BoothSeatPublic:
        return BoothSeatPublic(
            occupant=self.occupant,
            row=self.row,
            state="identified" if self.doc_id is not None else "captured",
            cameras=list(self.cameras),
            quality=self.quality,
            captured_at_s=self.captured_at_s,
            capture_zone=self.capture_zone,
            doc_id=self.doc_id,
            score=self.score,
            mode=self.mode,
            thumbnail=self.thumbnail is not None,
        )


@dataclass
class _Passage:
    passage_id: str
    zone: str | None = None
    t_s: float | None = None
    seats: dict[int, _Seat] = field(default_factory=dict)
    seen_not_captured: list[int | None] = field(default_factory=list)
    documents_unmatched: int = 0
    prompts: list[PromptPublic] = field(default_factory=list)
    complete: bool = False
    complete_capture: bool | None = None
    occupant_count: int | None = None
    stop_to_complete_s: float | None = None


@dataclass
class _Lane:
    name: str
    seq: int = 0
    updated_at: datetime | None = None
    passage: _Passage | None = None
    waiting: list[OfficerPromptPublic] = field(default_factory=list)  # officer prompts not yet sent to the lane
    subscribers: set[asyncio.Queue[int]] = field(default_factory=set)


def _thumbnail(text: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("thumbnail_jpeg_b64 is not valid base64") from None
    if not data.startswith(b"\xff\xd8\xff"):
        raise InputError("thumbnail_jpeg_b64 is not a JPEG")
    return data


class BoothHub:
    """See the module docstring."""

    def __init__(self, clock: Clock = system_clock, *, max_lanes: int = 256, max_subscribers: int = 32) -> None:
        self._clock = clock
        self._lanes: OrderedDict[str, _Lane] = OrderedDict()
        self._max_lanes = max_lanes
        self._max_subscribers = max_subscribers

    # ------------------------------------------------------------------ lanes
    poll_s: float | None = None  # open streams wait for a signal of this process's changes (no polling)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` from a route: on the event loop (this hub's state is the loop's own)."""
        return fn(*args)

    def _lane(self, name: str, *, create: bool) -> _Lane | None:
        lane = self._lanes.get(name)
        if lane is None and create:
            lane = self._lanes[name] = _Lane(name)
            while len(self._lanes) > self._max_lanes:  # forget the stalest lane, one nobody watches if any
                idle = [known for known, state in self._lanes.items() if not state.subscribers and known != name]
                del self._lanes[idle[0] if idle else next(iter(self._lanes))]
        if lane is not None:
            self._lanes.move_to_end(name)
        return lane

    def _get(self, name: str) -> _Lane | None:
        return self._lanes.get(name)

    def _all(self) -> list[_Lane]:
        """Every lane known, most recently updated first."""
        return list(reversed(self._lanes.values()))

    def _edit(self, name: str, fn: Callable[[_Lane], T]) -> T:
        """``fn`` changes the lane's state (creating the lane); its subscribers hear of a change."""
        lane = self._lane(name, create=True)
        assert lane is not None
        seq = lane.seq
        out = fn(lane)
        if lane.seq != seq:
            for queue in lane.subscribers:
                if queue.empty():  # a waiting subscriber reads the newest state anyway: one signal is enough
                    queue.put_nowait(lane.seq)
        return out

    def expire(self, now: datetime, keep_s: float) -> list[str]:
        """Clear the vehicle (seats, thumbnails, prompts) of every lane nothing has changed for ``keep_s``;
        the lanes cleared. Officer prompts still waiting for a lane stay (they hold no face)."""
        before = now - timedelta(seconds=keep_s)

        def stale(lane: _Lane) -> bool:
            return lane.passage is not None and lane.updated_at is not None and lane.updated_at < before

        def clear(lane: _Lane) -> bool:
            if not stale(lane):  # changed since it was read
                return False
            lane.passage = None
            self._changed(lane)
            return True

        return [lane.name for lane in self._all() if stale(lane) and self._edit(lane.name, clear)]

    def lanes(self) -> list[BoothPublic]:
        """Every lane known, most recently updated first."""
        return [self._public(lane) for lane in self._all()]

    def _changed(self, lane: _Lane) -> None:
        lane.seq += 1
        lane.updated_at = self._clock()

    # ------------------------------------------------------------------ the lane's side
    def publish(self, lane_name: str, events: Sequence[LaneEventIn]) -> list[OfficerPromptPublic]:
        """Apply a lane's events in order; answer the officer prompts waiting for that lane (handed over once).
        Every event is checked before any is applied (:class:`InputError` for a bad thumbnail or an event of
        another lane)."""
        thumbnails: list[bytes | None] = []
        for event in events:
            if event.lane is not None and event.lane != lane_name:
                raise InputError(f"an event of lane {event.lane!r} was posted for lane {lane_name!r}")
            thumbnails.append(None if event.thumbnail_jpeg_b64 is None else _thumbnail(event.thumbnail_jpeg_b64))

        def edit(lane: _Lane) -> list[OfficerPromptPublic]:
            for event, thumbnail in zip(events, thumbnails, strict=True):
                self._apply(lane, event, thumbnail)
            if events:
                self._changed(lane)
            waiting, lane.waiting = lane.waiting, []
            return waiting

        return self._edit(lane_name, edit)

    def _apply(self, lane: _Lane, event: LaneEventIn, thumbnail: bytes | None) -> None:
        passage = lane.passage
        if passage is None or passage.passage_id != event.passage_id:
            passage = lane.passage = _Passage(event.passage_id)
            for waiting in lane.waiting:  # prompts given before the vehicle's first event are its own
                waiting.passage_id = event.passage_id
        passage.zone, passage.t_s = event.zone, event.t_s
        kind = event.event
        if kind in ("occupant_captured", "occupant_identified") and event.occupant is not None:
            seat = passage.seats.get(event.occupant)
            if seat is None:
                if len(passage.seats) >= _MAX_SEATS:
                    return
                seat = passage.seats[event.occupant] = _Seat(event.occupant)
            if event.row is not None:
                seat.row = event.row
            if kind == "occupant_captured":
                seat.cameras = list(event.cameras)
                seat.quality, seat.captured_at_s, seat.capture_zone = (
                    event.quality,
                    event.captured_at_s,
                    event.capture_zone,
                )
                if thumbnail is not None:
                    seat.thumbnail = thumbnail
            else:
                seat.doc_id, seat.score, seat.mode = event.doc_id, event.score, event.mode
        elif kind == "seat_missing":
            passage.seen_not_captured = [s.row for s in event.seen_not_captured]
            passage.documents_unmatched = event.documents_unmatched or 0
        elif kind == "prompt" and event.source == "auto":  # an officer's prompt is listed when it is given
            self._add_prompt(
                passage, PromptPublic(at_s=event.t_s, at=self._clock(), source="auto", missing=event.missing)
            )
        elif kind == "passage_complete":
            passage.complete = True
            passage.complete_capture = event.complete_capture
            passage.occupant_count = event.occupant_count
            passage.stop_to_complete_s = event.stop_to_complete_s

    @staticmethod
    def _add_prompt(passage: _Passage, prompt: PromptPublic) -> None:
        if len(passage.prompts) < _MAX_PROMPTS:
            passage.prompts.append(prompt)

    # ------------------------------------------------------------------ the officer's side
    def snapshot(self, lane_name: str) -> BoothPublic:
        """The lane's booth now (a lane that has reported nothing yet is empty, not unknown: the officer may
        open the view before the first vehicle)."""
        lane = self._get(lane_name) or _Lane(lane_name)
        return self._public(lane)

    @staticmethod
    def _public(lane: _Lane) -> BoothPublic:
        p = lane.passage
        return BoothPublic(
            lane=lane.name,
            seq=lane.seq,
            passage_id=None if p is None else p.passage_id,
            zone=None if p is None else p.zone,
            t_s=None if p is None else p.t_s,
            updated_at=lane.updated_at,
            seats=[] if p is None else [s.public() for _, s in sorted(p.seats.items())],
            seen_not_captured=[] if p is None else list(p.seen_not_captured),
            documents_unmatched=0 if p is None else p.documents_unmatched,
            prompts=[] if p is None else list(p.prompts),
            complete=False if p is None else p.complete,
            complete_capture=None if p is None else p.complete_capture,
            occupant_count=None if p is None else p.occupant_count,
            stop_to_complete_s=None if p is None else p.stop_to_complete_s,
        )

    def thumbnail(self, lane_name: str, occupant: int) -> tuple[str, bytes]:
        """(passage_id, JPEG) of an occupant of the lane's current passage; :class:`RecordNotFoundError`."""
        lane = self._get(lane_name)
        passage = None if lane is None else lane.passage
        seat = None if passage is None else passage.seats.get(occupant)
        if passage is None or seat is None or seat.thumbnail is None:
            raise RecordNotFoundError(f"no thumbnail of occupant {occupant} at lane {lane_name!r}")
        return passage.passage_id, seat.thumbnail

    def prompt(self, lane_name: str, message: PromptMessage) -> OfficerPromptPublic:
        """An officer's prompt: waits for the lane's next post of events, is listed with the current passage."""

        def edit(lane: _Lane) -> OfficerPromptPublic:
            now = self._clock()
            passage = lane.passage if lane.passage is not None and not lane.passage.complete else None
            given = OfficerPromptPublic(
                prompt_id=secrets.token_hex(8),
                lane=lane_name,
                passage_id=None if passage is None else passage.passage_id,
                at=now,
                message=message,
                text=PROMPT_MESSAGES[message],
            )
            if len(lane.waiting) >= _MAX_WAITING:
                lane.waiting.pop(0)
            lane.waiting.append(given)
            if passage is not None:
                self._add_prompt(passage, PromptPublic(at_s=None, at=now, source="officer", message=message))
            self._changed(lane)
            return given

        return self._edit(lane_name, edit)

    # ------------------------------------------------------------------ live streams
    def subscribe(self, lane_name: str) -> asyncio.Queue[int]:
        """A queue that receives the lane's ``seq`` after each change (:class:`TooManySubscribersError`)."""
        lane = self._lane(lane_name, create=True)
        assert lane is not None
        if len(lane.subscribers) >= self._max_subscribers:
            raise TooManySubscribersError(lane_name)
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        lane.subscribers.add(queue)
        return queue

    def unsubscribe(self, lane_name: str, queue: asyncio.Queue[int]) -> None:
        lane = self._lanes.get(lane_name)
        if lane is not None:
            lane.subscribers.discard(queue)


# -- the shared hub ----------------------------------------------------------------------------------------
def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _encode(lane: _Lane) -> bytes:
    passage = None
    if lane.passage is not None:
        passage = asdict(lane.passage) | {
            "seats": [asdict(seat) | {"thumbnail": _b64(seat.thumbnail)} for seat in lane.passage.seats.values()],
            "prompts": [p.model_dump(mode="json") for p in lane.passage.prompts],
        }
    state = {
        "name": lane.name,
        "seq": lane.seq,
        "updated_at": None if lane.updated_at is None else lane.updated_at.isoformat(),
        "passage": passage,
        "waiting": [p.model_dump(mode="json") for p in lane.waiting],
    }
    return json.dumps(state, separators=(",", ":")).encode("utf-8")


def _decode(name: str, raw: bytes | None) -> _Lane:
    if raw is None:
        return _Lane(name)
    state = json.loads(raw)
    lane = _Lane(
        str(state["name"]),
        seq=int(state["seq"]),
        updated_at=None if state["updated_at"] is None else datetime.fromisoformat(state["updated_at"]),
        waiting=[OfficerPromptPublic.model_validate(p) for p in state["waiting"]],
    )
    p = state["passage"]
    if p is not None:
        seats = {}
        for seat in p.pop("seats"):
            thumbnail = seat.pop("thumbnail")
            seats[int(seat["occupant"])] = _Seat(
                **seat, thumbnail=None if thumbnail is None else base64.b64decode(thumbnail)
            )
        prompts = [PromptPublic.model_validate(x) for x in p.pop("prompts")]
        lane.passage = _Passage(**p, seats=seats, prompts=prompts)
    return lane


class SharedBoothHub(BoothHub):
    """The booth hub with each lane's state in the records database (module docstring): what one replica of
    the service changes, every replica shows. Its calls do database work: routes make them in the thread pool."""

    def __init__(
        self,
        records: RecordsService,
        clock: Clock = system_clock,
        *,
        poll_s: float = 0.5,
        max_lanes: int = 256,
        max_subscribers: int = 32,
    ) -> None:
        super().__init__(clock, max_lanes=max_lanes, max_subscribers=max_subscribers)
        self._records = records
        self.poll_s = poll_s

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(fn, *args)

    def _get(self, name: str) -> _Lane | None:
        raw = self._records.booth_state(name)
        return None if raw is None else _decode(name, raw)

    def _all(self) -> list[_Lane]:
        return [_decode("", raw) for raw in self._records.booth_states(self._max_lanes)]

    def _edit(self, name: str, fn: Callable[[_Lane], T]) -> T:
        out: list[T] = []

        def edit(raw: bytes | None) -> tuple[bytes, int]:
            lane = _decode(name, raw)
            out.append(fn(lane))
            return _encode(lane), lane.seq

        self._records.edit_booth_state(name, edit)
        return out[-1]  # the attempt that was committed (a first one may have lost a race and been rolled back)

"""The booth: what a lane reports while a vehicle passes (its pipeline's events), what the officer's booth view
reads (the vehicle at the booth, seat by seat) and the prompts officers give."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from laneface.api.schemas.common import FiniteFloat, Ident, LongIdent

__all__ = [
    "BoothPublic",
    "BoothSeatPublic",
    "LaneEventIn",
    "LaneEventsAccepted",
    "LaneEventsIn",
    "OfficerPromptPublic",
    "PromptCreate",
    "PromptPublic",
    "SeatRow",
]

# a thumbnail of a face (the lane sends about 96 px high JPEGs: a few kB); base64 of 48 KiB
MAX_THUMBNAIL_B64 = 65536
EventKind = Literal[
    "occupant_captured", "occupant_identified", "seat_missing", "prompt", "passage_complete", "passage_started"
]
Seconds = Annotated[float, Field(ge=0.0, le=86400.0, allow_inf_nan=False, strict=True)]
Count = Annotated[int, Field(ge=0, le=64)]
Row = Annotated[int, Field(ge=0, le=16)]
PromptMessage = Literal["look_at_camera", "remove_sunglasses", "remove_hat", "lower_window"]
Mode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class SeatRow(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    row: Row | None = None


class LaneEventIn(BaseModel):
    """One event of the lane pipeline (``laneface.pipeline.events``): the fields its kind carries, the others
    left out. ``thumbnail_jpeg_b64`` (``occupant_captured`` only): the captured face, small, for the booth view."""

    model_config = ConfigDict(extra="ignore", strict=True)

    event: EventKind
    passage_id: LongIdent
    lane: Ident | None = Field(default=None, description="When given, the lane of the request path.")
    t_s: Seconds = Field(description="Passage time, seconds.")
    zone: Ident | None = None
    stop_s: Seconds | None = Field(default=None, description="passage_started: when the vehicle stops, if known.")
    occupant: Annotated[int, Field(ge=1, le=64)] | None = None
    row: Row | None = None
    cameras: list[Ident] = Field(default_factory=list, max_length=16)
    quality: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False, strict=True)] | None = None
    captured_at_s: Seconds | None = None
    capture_zone: Ident | None = None
    doc_id: Ident | None = None
    score: FiniteFloat | None = None
    mode: Mode | None = None
    seen_not_captured: list[SeatRow] = Field(default_factory=list, max_length=64)
    documents_unmatched: Count | None = None
    source: Literal["auto", "officer"] | None = None
    missing: Count | None = None
    occupant_count: Count | None = None
    complete_capture: bool | None = None
    stop_to_complete_s: Seconds | None = None
    thumbnail_jpeg_b64: str | None = Field(
        default=None,
        max_length=MAX_THUMBNAIL_B64,
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/jpeg"},
    )


class LaneEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    events: list[LaneEventIn] = Field(
        max_length=200, description="In order; none: the lane only asks for the officer prompts waiting for it."
    )


class OfficerPromptPublic(BaseModel):
    """A prompt an officer gave at the booth, for the lane to show (sign, light, voice)."""

    prompt_id: str
    lane: str
    passage_id: str | None
    at: datetime
    message: PromptMessage
    text: str = Field(description="What the sign or the voice says.")


class LaneEventsAccepted(BaseModel):
    accepted: int
    prompts: list[OfficerPromptPublic] = Field(
        description="Officer prompts not yet handed to this lane: the lane shows them to the occupants."
    )


class PromptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    message: PromptMessage = "look_at_camera"


class BoothSeatPublic(BaseModel):
    occupant: int
    row: int | None
    state: Literal["captured", "identified"]
    cameras: list[str]
    quality: float | None
    captured_at_s: float | None
    capture_zone: str | None
    doc_id: str | None
    score: float | None
    mode: str | None
    thumbnail: bool = Field(description="A thumbnail can be read (audited) at .../thumbnails/{occupant}.")


class PromptPublic(BaseModel):
    at_s: float | None
    at: datetime
    source: Literal["auto", "officer"]
    missing: int | None = None
    message: PromptMessage | None = None


class BoothPublic(BaseModel):
    """The vehicle a lane reports now (or last): its occupants captured so far, what is still missing, the
    prompts given; ``seq`` grows with every change."""

    lane: str
    seq: int
    passage_id: str | None
    zone: str | None
    t_s: float | None
    updated_at: datetime | None
    seats: list[BoothSeatPublic]
    seen_not_captured: list[int | None]
    documents_unmatched: int
    prompts: list[PromptPublic]
    complete: bool
    complete_capture: bool | None
    occupant_count: int | None
    stop_to_complete_s: float | None

"""What lanes post: one passage with its occupants (images as base64 bytes, never URLs or paths)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from laneface.api.schemas.common import FiniteFloat, Ident, Instant, LongIdent, decode_b64
from laneface.plates import PLATE_TEXT_PATTERN, REGION_PATTERN, PlateRead
from laneface.records.domain import OccupantSubmission, PassagePrompt, PassageReceipt, PassageSubmission
from laneface.types import Decision, Direction

Stage = Literal["documents", "vehicle", "open_stays", "gallery"]  # laneface.pipeline.identify.Stage

__all__ = [
    "MatchCreate",
    "OccupantCreate",
    "PassageCreate",
    "PassagePromptCreate",
    "PassageReceiptPublic",
    "PlateCreate",
]

# 2 MiB of image data is 2.8 MB of base64; the configured byte limit is checked after decoding
_MAX_B64 = 12 * 1024 * 1024
ModelVersion = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]


class MatchCreate(BaseModel):
    model_config = ConfigDict(strict=True)

    doc_id: Ident | None = None
    score: FiniteFloat | None = None
    decision: Decision
    threshold: FiniteFloat | None = Field(default=None, description="The threshold the lane compared the score with.")
    stage: Stage | None = Field(
        default=None, description="The candidate list that decided: documents read, vehicle, open_stays, gallery."
    )
    list_size: int | None = Field(default=None, ge=0, le=2**31 - 1, description="Enrolled documents of that list.")

    @model_validator(mode="after")
    def _match_names_a_document(self) -> MatchCreate:
        if self.decision == "match" and self.doc_id is None:
            raise ValueError("a 'match' decision needs the doc_id it matched")
        return self


class OccupantCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    occupant_id: Ident
    row: int | None = Field(default=None, ge=0, le=16)
    quality: float = Field(ge=0.0, le=100.0, allow_inf_nan=False, description="Quality scalar 0-100.")
    quality_passed: bool
    match: MatchCreate
    model_version: ModelVersion
    best_shot_jpeg_b64: str | None = Field(
        default=None,
        max_length=_MAX_B64,
        description="The best-shot JPEG, base64. Bytes only: URLs and paths are not accepted.",
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/jpeg"},
    )
    template_b64: str | None = Field(
        default=None,
        max_length=32768,
        description="Optional face template: little-endian float32 values, base64.",
        json_schema_extra={"contentEncoding": "base64"},
    )


class PlateCreate(BaseModel):
    """The lane's plate read."""

    model_config = ConfigDict(extra="ignore", strict=True)

    text: Annotated[str, StringConstraints(pattern=PLATE_TEXT_PATTERN)]
    region: Annotated[str, StringConstraints(pattern=REGION_PATTERN)] | None = None
    confidence: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)

    def to_read(self) -> PlateRead:
        try:
            return PlateRead(self.text, self.region.upper() if self.region else None, self.confidence)
        except ValueError as exc:  # a text of spaces and dashes only
            raise ValueError(str(exc)) from None


class PassagePromptCreate(BaseModel):
    """A prompt given to the occupants while the vehicle passed (the lane's passage result lists them)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    source: Literal["auto", "officer"]
    at_s: Annotated[float, Field(ge=0.0, le=86400.0, allow_inf_nan=False)] | None = None
    missing: Annotated[int, Field(ge=0, le=64)] | None = None
    message: Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z][a-z0-9_]*$")] | None = None


class PassageCreate(BaseModel):
    """A passage as the lane pipeline reports it. ``(passage_id, lane)`` is the idempotency key: the same key
    with the same body returns the stored record (200), with another body 409."""

    # strict: the JSON types the schema declares (no 0/1 for booleans, no strings or booleans for numbers); the
    # date-time is the one field parsed from a string
    model_config = ConfigDict(extra="ignore", strict=True)

    passage_id: LongIdent
    lane: Ident
    direction: Direction
    started_at: Annotated[Instant, Field(strict=False)]
    occupant_count: int = Field(ge=0, le=64)
    complete_capture: bool
    occupants: list[OccupantCreate] = Field(default_factory=list, max_length=64)
    timing_s: FiniteFloat | dict[Ident, FiniteFloat] | None = Field(default=None)
    prompts: list[PassagePromptCreate] = Field(
        default_factory=list, max_length=64, description="Prompts given while it passed (booth), in order."
    )
    plate: PlateCreate | None = Field(default=None, description="The lane's plate read, when it has a reader.")
    faces_not_counted: int = Field(
        default=0,
        ge=0,
        le=1024,
        description="Camera tracks the lane left out as faces no occupant makes (printed on a shirt, a photo or a "
        "screen held up).",
    )

    @model_validator(mode="after")
    def _unique_occupants(self) -> PassageCreate:
        ids = [o.occupant_id for o in self.occupants]
        if len(ids) != len(set(ids)):
            raise ValueError("occupant_id values must be unique within a passage")
        if isinstance(self.timing_s, dict) and len(self.timing_s) > 32:
            raise ValueError("timing_s has more than 32 entries")
        if self.plate is not None:
            self.plate.to_read()
        return self

    def to_submission(
        self, images: dict[str, bytes] | None = None, templates: dict[str, bytes] | None = None
    ) -> PassageSubmission:
        """The domain value; ``images``/``templates`` (multipart uploads by occupant_id) win over base64."""
        occupants = []
        for o in self.occupants:
            image = (images or {}).get(o.occupant_id)
            if image is None and o.best_shot_jpeg_b64 is not None:
                image = decode_b64(o.best_shot_jpeg_b64, what=f"occupant {o.occupant_id!r} best_shot_jpeg_b64")
            template = (templates or {}).get(o.occupant_id)
            if template is None and o.template_b64 is not None:
                template = decode_b64(o.template_b64, what=f"occupant {o.occupant_id!r} template_b64")
            occupants.append(
                OccupantSubmission(
                    occupant_id=o.occupant_id,
                    row=o.row,
                    quality=o.quality,
                    quality_passed=o.quality_passed,
                    decision=o.match.decision,
                    doc_id=o.match.doc_id,
                    score=o.match.score,
                    threshold=o.match.threshold,
                    stage=o.match.stage,
                    list_size=o.match.list_size,
                    model_version=o.model_version,
                    image_jpeg=image,
                    template=template,
                )
            )
        return PassageSubmission(
            passage_id=self.passage_id,
            lane=self.lane,
            direction=self.direction,
            started_at=self.started_at,
            occupant_count=self.occupant_count,
            complete_capture=self.complete_capture,
            occupants=tuple(occupants),
            timing_s=self.timing_s,
            prompts=tuple(PassagePrompt(p.source, p.at_s, p.missing, p.message) for p in self.prompts),
            plate=None if self.plate is None else self.plate.to_read(),
            faces_not_counted=self.faces_not_counted,
        )


class PassageReceiptPublic(BaseModel):
    """What a lane gets back: identifiers and counts, nothing biometric, nothing about identities."""

    crossing_id: int
    passage_id: str
    lane: str
    received_at: datetime
    occupants: int
    images_withheld: int = Field(description="Occupants whose images were not stored (traveller opted out).")

    @classmethod
    def of(cls, receipt: PassageReceipt) -> PassageReceiptPublic:
        return cls(
            crossing_id=receipt.crossing_id,
            passage_id=receipt.passage_id,
            lane=receipt.lane,
            received_at=receipt.received_at,
            occupants=receipt.occupants,
            images_withheld=receipt.images_withheld,
        )

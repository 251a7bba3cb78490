"""Ledger, stays and statistics as returned to officers (statistics also to auditors and admins)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DocumentHistoryPublic",
    "DocumentPublic",
    "LedgerEntryPublic",
    "StatsPublic",
    "StatsRowPublic",
    "StayPublic",
    "TravellerStaysPublic",
]


class DocumentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    doc_type: str
    enrolled: bool
    traveller_ref: str
    citizenship: str
    biometric_opt_out: bool
    quality_flags: list[str] = Field(default_factory=list, description="Quality requirements the photo missed.")
    has_photo: bool = Field(default=False, description="A document photo is stored for adjudication.")


class LedgerEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    movement: str
    at: datetime
    doc_id: str
    doc_type: str
    lane: str
    passage_id: str
    crossing_id: int
    occupant_pk: int
    source: str


class DocumentHistoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    document: DocumentPublic
    entries: list[LedgerEntryPublic]


class StayPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    arrival_at: datetime | None
    departure_at: datetime | None
    doc_id: str | None
    doc_type: str | None
    days: int | None
    allowed_days: int | None
    overstay_days: int
    ongoing: bool
    anomaly: str | None


class TravellerStaysPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    traveller_ref: str
    citizenship: str
    citizen: bool
    stays: list[StayPublic]
    in_country: bool
    overstaying: bool


class StatsRowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    group: dict[str, str]
    passages: int
    occupants: int
    captured: int
    capture_rate: float | None
    quality_passed: int
    confirmations: int


class StatsPublic(BaseModel):
    since: datetime
    until: datetime
    group_by: list[str]
    rows: list[StatsRowPublic]

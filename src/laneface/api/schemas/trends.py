"""Daily series for the statistics charts: capture by seat row, officers' reviews and false-match reviews."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CaptureByRowPublic", "ReviewDayPublic", "ReviewStatsPublic", "RowCapturePublic"]


class RowCapturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: str = Field(description="UTC calendar day of the passage start (YYYY-MM-DD).")
    row: int | None = Field(description="Seat row; null when the cameras did not tell.")
    occupants: int
    captured: int = Field(description="Occupants whose decision is not 'not_captured'.")
    capture_rate: float | None


class CaptureByRowPublic(BaseModel):
    since: datetime
    until: datetime
    rows: list[RowCapturePublic]


class ReviewDayPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: str = Field(description="UTC calendar day of the review decision (YYYY-MM-DD).")
    reviews: int
    confirmed: int
    rejected: int
    referred: int
    match_reviews: int = Field(description="Reviews of occupants the lane decided 'match'.")
    false_match_reviews: int = Field(
        description="Reviews overturning a lane 'match': rejected, or confirmed on another document."
    )


class ReviewStatsPublic(BaseModel):
    since: datetime
    until: datetime
    days: list[ReviewDayPublic]

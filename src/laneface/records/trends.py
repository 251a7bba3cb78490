"""Daily series for the officers' statistics charts: capture by seat row, and officers' reviews.

* Capture by row: per UTC day of the passage start and per seat row (``None`` when the cameras did not tell),
  the occupants and those captured (decision other than ``not_captured``, as in :mod:`laneface.records.stats`).
* Reviews: per UTC day of the review decision, the reviews by decision, the reviews of lane ``match``
  decisions, and the **false-match reviews**: reviews of a lane ``match`` in which the officer overturned it
  (``rejected``, or ``confirmed`` with another document than the lane's). ``referred`` overturns nothing.

Aggregation is done in Python on the rows of the window, so SQLite and PostgreSQL give identical results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from laneface.errors import InputError
from laneface.records.stats import MAX_WINDOW
from laneface.records.tables import Crossing, Occupant, Review

__all__ = ["ReviewDay", "RowCaptureDay", "capture_by_row", "check_window", "is_false_match_review", "review_days"]


@dataclass
class RowCaptureDay:
    day: str
    row: int | None
    occupants: int = 0
    captured: int = 0

    @property
    def capture_rate(self) -> float | None:
        return None if self.occupants == 0 else self.captured / self.occupants


@dataclass
class ReviewDay:
    day: str
    reviews: int = 0
    confirmed: int = 0
    rejected: int = 0
    referred: int = 0
    match_reviews: int = 0
    false_match_reviews: int = 0


def check_window(since: datetime, until: datetime) -> None:
    if until <= since:
        raise InputError("the statistics window is empty: 'until' must be after 'since'")
    if until - since > MAX_WINDOW:
        raise InputError(f"the statistics window is limited to {MAX_WINDOW.days} days")


def capture_by_row(session: Session, *, since: datetime, until: datetime) -> list[RowCaptureDay]:
    """Rows sorted by day, then row (unknown row last)."""
    check_window(since, until)
    query = (
        select(Crossing.started_at, Occupant.row, Occupant.decision)
        .join(Crossing, Occupant.crossing_id == Crossing.id)
        .where(Crossing.started_at >= since, Crossing.started_at < until)
    )
    out: dict[tuple[str, int | None], RowCaptureDay] = {}
    for started, row, decision in session.execute(query):
        day = started.date().isoformat()
        entry = out.get((day, row))
        if entry is None:
            entry = out[(day, row)] = RowCaptureDay(day=day, row=row)
        entry.occupants += 1
        entry.captured += decision != "not_captured"
    return sorted(out.values(), key=lambda e: (e.day, e.row is None, e.row or 0))


def is_false_match_review(
    lane_decision: str, lane_doc_id: str | None, review_decision: str, review_doc_id: str | None
) -> bool:
    """True when the review overturns a lane ``match``: rejected, or confirmed on another document."""
    if lane_decision != "match":
        return False
    if review_decision == "rejected":
        return True
    return review_decision == "confirmed" and review_doc_id is not None and review_doc_id != lane_doc_id


def review_days(session: Session, *, since: datetime, until: datetime) -> list[ReviewDay]:
    """Days (of the decision) that have at least one review, in order."""
    check_window(since, until)
    query = (
        select(Review.decided_at, Review.decision, Review.doc_id, Occupant.decision, Occupant.doc_id)
        .join(Occupant, Review.occupant_pk == Occupant.id)
        .where(Review.decided_at >= since, Review.decided_at < until)
    )
    out: dict[str, ReviewDay] = {}
    for decided, decision, doc_id, lane_decision, lane_doc in session.execute(query):
        day = decided.date().isoformat()
        entry = out.get(day)
        if entry is None:
            entry = out[day] = ReviewDay(day=day)
        entry.reviews += 1
        entry.confirmed += decision == "confirmed"
        entry.rejected += decision == "rejected"
        entry.referred += decision == "referred"
        entry.match_reviews += lane_decision == "match"
        entry.false_match_reviews += is_false_match_review(lane_decision, lane_doc, decision, doc_id)
    return [out[d] for d in sorted(out)]

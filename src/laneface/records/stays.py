"""Stay and overstay computation from a traveller's confirmed movements (pure functions).

Counting convention (as for the EU Entry/Exit System): a stay lasts from the calendar day (UTC) of the
arrival to the calendar day of the departure, **both days included**; a stay overstays when it has more
days than the admission period of the document used at arrival. A citizen (``allowed_days is None``)
never overstays. Movements that do not pair up are reported, not guessed: a departure with no arrival
before it, and an arrival followed by another arrival, are stays with an ``anomaly`` and no day count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Movement", "Stay", "compute_stays", "stay_days"]


@dataclass(frozen=True)
class Movement:
    movement: str  # "arrival" | "departure"
    at: datetime
    doc_id: str
    doc_type: str


@dataclass(frozen=True)
class Stay:
    arrival_at: datetime | None
    departure_at: datetime | None
    doc_id: str | None
    doc_type: str | None
    days: int | None
    allowed_days: int | None
    overstay_days: int
    ongoing: bool
    anomaly: str | None = None


def stay_days(arrival: datetime, end: datetime) -> int:
    """Calendar days (UTC) from arrival to end, both included."""
    return (end.date() - arrival.date()).days + 1


def compute_stays(
    movements: Sequence[Movement], *, now: datetime, allowed_days: Callable[[str], int | None]
) -> list[Stay]:
    """Pair arrivals with the next departure, in time order. ``allowed_days(doc_type)`` gives the admission
    period (None = unlimited). An arrival with no departure yet is an ongoing stay counted up to ``now``."""
    stays: list[Stay] = []
    open_arrival: Movement | None = None

    def closed(arrival: Movement, end: datetime, *, ongoing: bool) -> Stay:
        days = stay_days(arrival.at, end)
        allowed = allowed_days(arrival.doc_type)
        over = 0 if allowed is None else max(0, days - allowed)
        return Stay(
            arrival.at, None if ongoing else end, arrival.doc_id, arrival.doc_type, days, allowed, over, ongoing
        )

    for m in sorted(movements, key=lambda m: m.at):
        if m.movement == "arrival":
            if open_arrival is not None:
                a = open_arrival
                stays.append(
                    Stay(
                        a.at,
                        None,
                        a.doc_id,
                        a.doc_type,
                        None,
                        allowed_days(a.doc_type),
                        0,
                        False,
                        "arrival_without_departure",
                    )
                )
            open_arrival = m
        elif open_arrival is not None:
            stays.append(closed(open_arrival, m.at, ongoing=False))
            open_arrival = None
        else:
            stays.append(Stay(None, m.at, m.doc_id, m.doc_type, None, None, 0, False, "departure_without_arrival"))
    if open_arrival is not None:
        stays.append(closed(open_arrival, max(now, open_arrival.at), ongoing=True))
    return stays

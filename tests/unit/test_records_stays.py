"""Stay and overstay computation: calendar days with both ends counted, admission per document type."""

from __future__ import annotations

from datetime import UTC, datetime

from laneface.records.stays import Movement, compute_stays, stay_days


def _at(day: int, month: int = 1, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _allowed(doc_type: str) -> int | None:
    return {"passport": 90, "visa": 10}.get(doc_type, 30)


def test_stay_days_count_both_ends() -> None:
    assert stay_days(_at(1), _at(1, hour=23)) == 1
    assert stay_days(_at(1, hour=23), _at(2, hour=0)) == 2
    assert stay_days(_at(1), _at(31)) == 31


def test_closed_stay_within_admission() -> None:
    stays = compute_stays(
        [Movement("arrival", _at(1), "D1", "visa"), Movement("departure", _at(10), "D1", "visa")],
        now=_at(20),
        allowed_days=_allowed,
    )
    assert len(stays) == 1
    s = stays[0]
    assert (s.days, s.allowed_days, s.overstay_days, s.ongoing, s.anomaly) == (10, 10, 0, False, None)


def test_overstay_on_the_eleventh_day_of_a_ten_day_visa() -> None:
    stays = compute_stays(
        [Movement("departure", _at(11), "D1", "visa"), Movement("arrival", _at(1), "D1", "visa")],
        now=_at(20),
        allowed_days=_allowed,
    )
    assert [(s.days, s.overstay_days) for s in stays] == [(11, 1)]


def test_ongoing_stay_counts_to_now_and_citizens_never_overstay() -> None:
    moves = [Movement("arrival", _at(1), "D1", "passport")]
    (s,) = compute_stays(moves, now=_at(1, month=6), allowed_days=_allowed)
    assert s.ongoing and s.departure_at is None and s.days == 152 and s.overstay_days == 62
    (c,) = compute_stays(moves, now=_at(1, month=6), allowed_days=lambda _t: None)
    assert c.allowed_days is None and c.overstay_days == 0


def test_unpaired_movements_are_reported_not_guessed() -> None:
    stays = compute_stays(
        [
            Movement("departure", _at(1), "D1", "passport"),
            Movement("arrival", _at(2), "D1", "passport"),
            Movement("arrival", _at(5), "D2", "visa"),
            Movement("departure", _at(6), "D2", "visa"),
        ],
        now=_at(30),
        allowed_days=_allowed,
    )
    assert [s.anomaly for s in stays] == ["departure_without_arrival", "arrival_without_departure", None]
    assert stays[0].days is None and stays[1].days is None
    assert (stays[2].doc_type, stays[2].days) == ("visa", 2)


def test_no_movements_no_stays() -> None:
    assert compute_stays([], now=_at(1), allowed_days=_allowed) == []

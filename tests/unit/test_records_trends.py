"""Which officer reviews count as false-match reviews, and the statistics window checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from laneface.errors import InputError
from laneface.records.trends import check_window, is_false_match_review


@pytest.mark.parametrize(
    ("lane", "lane_doc", "decision", "doc", "expected"),
    [
        ("match", "D1", "rejected", None, True),
        ("match", "D1", "confirmed", "D1", False),
        ("match", "D1", "confirmed", "D2", True),
        ("match", "D1", "confirmed", None, False),  # stored reviews always name the document; defensive
        ("match", "D1", "referred", None, False),
        ("no_match", "D1", "rejected", None, False),
        ("no_match", None, "confirmed", "D3", False),
        ("not_captured", None, "rejected", None, False),
    ],
)
def test_false_match_reviews(lane: str, lane_doc: str | None, decision: str, doc: str | None, expected: bool) -> None:
    assert is_false_match_review(lane, lane_doc, decision, doc) is expected


def test_window_checks() -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    check_window(t0, t0 + timedelta(days=366))
    with pytest.raises(InputError, match="empty"):
        check_window(t0, t0)
    with pytest.raises(InputError, match="366"):
        check_window(t0, t0 + timedelta(days=367))

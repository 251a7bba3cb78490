"""Candidate lists from the ledger on SQLite and PostgreSQL: people seen in the same vehicle (plate key,
region, window, confidence), open stays (closed by a departure, limited to lanes), every enrolled document
of each traveller mapped to the traveller; the plate and the deciding stage stored with the crossing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_records_store import ADMIN, LANE, T0, occupant, open_service, passage

from laneface.pipeline.candidates import CandidateQuery
from laneface.plates import PlateRead
from laneface.records.candidates import LedgerCandidates
from laneface.records.clock import ManualClock
from laneface.records.crypto import generate_key
from laneface.records.domain import CrossingFilter, PassageSubmission
from laneface.records.service import RecordsService


@pytest.fixture
def records(database_url: str, tmp_path: Path) -> Iterator[RecordsService]:
    service = open_service(database_url, tmp_path, ManualClock(T0), generate_key())
    for doc, ref, doc_type in (
        ("P-ANA", "ANA", "passport"),
        ("C-ANA", "ANA", "card"),
        ("P-BEN", "BEN", "passport"),
        ("P-CAL", "CAL", "passport"),
        ("P-DOT", "DOT", "passport"),
    ):
        service.enroll_document(
            doc_id=doc, doc_type=doc_type, citizenship="FRA", traveller_ref=ref, opt_out=None, actor=ADMIN
        )
    yield service
    service.close()


def _crossing(
    pid: str,
    docs: list[str],
    *,
    at: datetime,
    direction: str = "inbound",
    lane: str = "PAC-1",
    plate: PlateRead | None = None,
) -> PassageSubmission:
    occupants = [occupant(f"o{n}", doc=d) for n, d in enumerate(docs)]
    return replace(passage(pid, *occupants, lane=lane, direction=direction, at=at), plate=plate)


def _query(at: datetime, plate: PlateRead | None, *stages: str) -> CandidateQuery:
    return CandidateQuery("OUT-1", "outbound", at, plate, stages or ("vehicle", "open_stays"))  # type: ignore[arg-type]


def test_people_seen_in_the_vehicle_before(records: RecordsService) -> None:
    # Ana and Ben came in the car ABC-123 ten days ago; Cal in another car; Dot in ABC-123 two years ago
    records.submit_passage(_crossing("in1", ["P-ANA", "P-BEN"], at=T0, plate=PlateRead("ABC-123", "ON")), LANE)
    records.submit_passage(_crossing("in2", ["P-CAL"], at=T0, plate=PlateRead("XYZ-999", "ON")), LANE)
    old = T0 - timedelta(days=700)
    records.submit_passage(_crossing("in0", ["P-DOT"], at=old, plate=PlateRead("ABC123", "ON")), LANE)
    ledger = LedgerCandidates(records.sessions, vehicle_days=365)
    later = T0 + timedelta(days=10)

    (vehicle,) = ledger.lists(_query(later, PlateRead("A8C 1Z3", "ON", 0.9), "vehicle"))  # misread look-alikes
    assert vehicle.stage == "vehicle"
    assert set(vehicle.doc_ids) == {"P-ANA", "C-ANA", "P-BEN"}, "every enrolled document of the people seen"
    assert vehicle.persons == {"P-ANA": "ANA", "C-ANA": "ANA", "P-BEN": "BEN"}
    assert ledger.lists(_query(later, PlateRead("ABC123", "QC"), "vehicle")) == [], "another region's plate"
    assert ledger.lists(_query(later, PlateRead("ABC123", None), "vehicle")), "a read without a region"
    assert ledger.lists(_query(later, PlateRead("ABC123", "ON", 0.3), "vehicle")) == [], "a doubtful read"
    assert ledger.lists(_query(later, None, "vehicle")) == []
    assert ledger.lists(_query(old + timedelta(days=9), PlateRead("ABC123"), "vehicle"))[0].doc_ids == ("P-DOT",)
    wide = LedgerCandidates(records.sessions, vehicle_days=1000)
    assert "P-DOT" in wide.lists(_query(later, PlateRead("ABC123"), "vehicle"))[0].doc_ids


def test_open_stays_close_with_a_departure(records: RecordsService) -> None:
    records.submit_passage(_crossing("a", ["P-ANA"], at=T0, lane="PAC-1"), LANE)
    records.submit_passage(_crossing("b", ["P-BEN"], at=T0, lane="ATL-2"), LANE)
    records.submit_passage(_crossing("c", ["P-CAL"], at=T0 - timedelta(days=30)), LANE)
    records.submit_passage(
        _crossing("c-out", ["P-CAL"], at=T0 - timedelta(days=20), direction="outbound", lane="OUT-1"), LANE
    )
    ledger = LedgerCandidates(records.sessions)
    at = T0 + timedelta(days=3)
    (stays,) = ledger.lists(_query(at, None, "open_stays"))
    assert set(stays.persons.values()) == {"ANA", "BEN"}, "Cal left; Dot never came"
    assert ledger.lists(_query(T0 - timedelta(days=25), None, "open_stays"))[0].persons == {"P-CAL": "CAL"}
    region = LedgerCandidates(records.sessions, open_stays_lanes=("PAC-*",))
    assert set(region.lists(_query(at, None, "open_stays"))[0].persons.values()) == {"ANA"}

    # Ana leaves, matched outbound: her stay is closed and she is no longer expected
    records.submit_passage(_crossing("a-out", ["C-ANA"], at=at, direction="outbound", lane="OUT-1"), LANE)
    assert not records.traveller_stays("ANA", at=at + timedelta(hours=1)).in_country
    (after,) = ledger.lists(_query(at + timedelta(hours=1), None, "open_stays"))
    assert set(after.persons.values()) == {"BEN"}


def test_the_plate_and_the_deciding_stage_are_kept_with_the_crossing(records: RecordsService) -> None:
    sub = _crossing("p", ["P-ANA"], at=T0, plate=PlateRead("ABC 123", "ON", 0.875))
    sub = replace(sub, occupants=(replace(sub.occupants[0], stage="vehicle", list_size=3),))
    receipt, created = records.submit_passage(sub, LANE)
    assert created and records.submit_passage(sub, LANE) == (receipt, False), "idempotent with a plate"
    view = records.crossing(receipt.crossing_id)
    assert view.plate == PlateRead("ABC 123", "ON", 0.875)
    assert (view.occupants[0].stage, view.occupants[0].list_size) == ("vehicle", 3)
    plain = records.submit_passage(_crossing("q", ["P-BEN"], at=T0), LANE)[0]
    assert records.crossing(plain.crossing_id).plate is None
    assert len(records.crossings(CrossingFilter())) == 2


def test_one_open_stays_list_serves_a_minute_of_passages(records: RecordsService) -> None:
    records.submit_passage(_crossing("a", ["P-ANA"], at=T0), LANE)
    ledger = LedgerCandidates(records.sessions)  # lane.open_stays_refresh_s: 60 s
    at = T0 + timedelta(days=1)
    (first,) = ledger.lists(_query(at, None, "open_stays"))
    assert set(first.persons.values()) == {"ANA"}
    records.submit_passage(_crossing("b", ["P-BEN"], at=at + timedelta(seconds=10)), LANE)
    assert ledger.lists(_query(at + timedelta(seconds=30), None, "open_stays")) == [first], "Ben's arrival not yet"
    (later,) = ledger.lists(_query(at + timedelta(seconds=61), None, "open_stays"))
    assert set(later.persons.values()) == {"ANA", "BEN"}
    every = LedgerCandidates(records.sessions, open_stays_refresh_s=0)
    every.lists(_query(at, None, "open_stays"))
    assert set(every.lists(_query(at + timedelta(seconds=30), None, "open_stays"))[0].persons.values()) == {
        "ANA",
        "BEN",
    }

"""Candidate lists from the entry/exit ledger, for lanes that read few documents (outbound).

* ``vehicle``: the travellers confirmed (ledger entries, automatic or an officer's) in earlier crossings of
  the same plate (:func:`laneface.plates.plate_key`; the region must agree where both reads have one)
  within ``vehicle_days`` before the passage. A read below ``plate_min_confidence`` looks nothing up.
* ``open_stays``: the travellers whose last confirmed movement before the passage is an arrival (entered,
  not left), optionally only arrivals at lanes matching ``open_stays_lanes`` (fnmatch patterns: a port
  region). Outbound passages only: people arriving are not expected to be in the country already. The query
  reads the whole ledger, so one list serves the passages within ``open_stays_refresh_s`` of the one it was
  made for (someone who arrived in that minute is not on it yet; nobody leaves twice in it).

A list names every enrolled document of those travellers (someone may leave with another document than
the one they came with) and maps each to its traveller, so that one person is matched once per vehicle.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from laneface.config import LaneSettings
from laneface.pipeline.candidates import CandidateQuery
from laneface.pipeline.identify import CandidateList, ListStage
from laneface.plates import PlateRead
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant, Traveller

__all__ = ["LedgerCandidates", "open_stay_travellers", "vehicle_travellers"]


def vehicle_travellers(session: Session, plate: PlateRead, *, before: datetime, days: int) -> list[int]:
    """Ids of the travellers confirmed in crossings of ``plate`` in the ``days`` before ``before``."""
    condition = and_(
        Crossing.plate_key == plate.key,
        Crossing.started_at >= before - timedelta(days=days),
        Crossing.started_at < before,
    )
    if plate.region is not None:
        condition = and_(condition, or_(Crossing.plate_region.is_(None), Crossing.plate_region == plate.region))
    rows = session.execute(
        select(LedgerEntry.traveller_id, func.max(Crossing.started_at))
        .join(Occupant, LedgerEntry.occupant_pk == Occupant.id)
        .join(Crossing, Occupant.crossing_id == Crossing.id)
        .where(condition)
        .group_by(LedgerEntry.traveller_id)
        .order_by(func.max(Crossing.started_at).desc(), LedgerEntry.traveller_id)
    )
    return [traveller_id for traveller_id, _ in rows]


def open_stay_travellers(session: Session, *, before: datetime, lanes: Sequence[str] = ()) -> list[int]:
    """Ids of the travellers whose last confirmed movement before ``before`` is an arrival (at a lane
    matching one of ``lanes``, when given)."""
    last = (
        select(LedgerEntry.traveller_id.label("traveller_id"), func.max(LedgerEntry.at).label("last_at"))
        .where(LedgerEntry.at < before)
        .group_by(LedgerEntry.traveller_id)
        .subquery()
    )
    rows = session.execute(
        select(LedgerEntry.traveller_id, LedgerEntry.movement, Crossing.lane)
        .join(last, and_(LedgerEntry.traveller_id == last.c.traveller_id, LedgerEntry.at == last.c.last_at))
        .join(Occupant, LedgerEntry.occupant_pk == Occupant.id)
        .join(Crossing, Occupant.crossing_id == Crossing.id)
        .order_by(LedgerEntry.traveller_id, LedgerEntry.id)
    )
    last_movement: dict[int, tuple[str, str]] = {}
    for traveller_id, movement, lane in rows:  # two entries at the same instant: the one recorded last
        last_movement[traveller_id] = (movement, lane)
    return [
        t
        for t, (movement, lane) in last_movement.items()
        if movement == "arrival" and (not lanes or any(fnmatch.fnmatchcase(lane, p) for p in lanes))
    ]


def _list(session: Session, stage: ListStage, traveller_ids: Iterable[int]) -> CandidateList | None:
    """The enrolled documents of ``traveller_ids`` (in that order), each mapped to its traveller's ref."""
    order = {t: n for n, t in enumerate(dict.fromkeys(traveller_ids))}
    if not order:
        return None
    docs: list[tuple[int, str, str]] = []
    ids = list(order)
    for start in range(0, len(ids), 900):  # SQLite takes at most 999 bound parameters
        chunk = ids[start : start + 900]
        rows = session.execute(
            select(Document.traveller_id, Document.doc_id, Traveller.traveller_ref)
            .join(Traveller, Document.traveller_id == Traveller.id)
            .where(Document.traveller_id.in_(chunk), Document.enrolled.is_(True))
        )
        docs.extend((t, d, ref) for t, d, ref in rows)
    if not docs:
        return None
    docs.sort(key=lambda row: (order[row[0]], row[1]))
    return CandidateList(stage, tuple(d for _, d, _ in docs), {d: ref for _, d, ref in docs})


@dataclass(frozen=True)
class LedgerCandidates:
    """A :class:`~laneface.pipeline.candidates.CandidateSource` on a records database."""

    sessions: sessionmaker[Session]
    vehicle_days: int = 365
    plate_min_confidence: float = 0.5
    open_stays_lanes: tuple[str, ...] = ()
    open_stays_refresh_s: float = 60.0
    # the last open-stays list and the passage time it was made for (one lane process asks from one thread)
    _open_stays: list[tuple[datetime, CandidateList | None]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def for_lane(cls, sessions: sessionmaker[Session], lane: LaneSettings) -> LedgerCandidates:
        return cls(
            sessions, lane.vehicle_days, lane.plate_min_confidence, lane.open_stays_lanes, lane.open_stays_refresh_s
        )

    def _open_stays_list(self, session: Session, before: datetime) -> CandidateList | None:
        if self._open_stays:
            made_for, found = self._open_stays[0]
            if abs((before - made_for).total_seconds()) <= self.open_stays_refresh_s:
                return found
        found = _list(session, "open_stays", open_stay_travellers(session, before=before, lanes=self.open_stays_lanes))
        self._open_stays[:] = [(before, found)]
        return found

    def lists(self, query: CandidateQuery) -> list[CandidateList]:
        out: list[CandidateList] = []
        before = query.started_at if query.started_at.tzinfo is not None else query.started_at.replace(tzinfo=UTC)
        with self.sessions() as session:
            for stage in query.stages:
                found: CandidateList | None = None
                if stage == "vehicle":
                    plate = query.plate
                    if plate is not None and plate.confidence >= self.plate_min_confidence:
                        ids = vehicle_travellers(session, plate, before=before, days=self.vehicle_days)
                        found = _list(session, "vehicle", ids)
                elif stage == "open_stays" and query.direction == "outbound":
                    found = self._open_stays_list(session, before)
                if found is not None:
                    out.append(found)
        return out

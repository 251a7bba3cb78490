"""Aggregate statistics per day/lane/direction/citizenship/document type.

Per group: ``passages`` (distinct crossings), ``occupants`` (occupant records), ``captured`` (occupants
whose decision is not ``not_captured``), ``capture_rate`` (captured / occupants; None without occupants),
``quality_passed`` and ``confirmations`` (occupants with a ledger entry). An occupant's citizenship and
document type come from its ledger entry, else from its lane match on a known document, else
``"unknown"``. Days are UTC calendar days of the passage start. Aggregation is done in Python on the
rows of the requested window, so SQLite and PostgreSQL give identical results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from laneface.errors import InputError
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant, Traveller

__all__ = ["GROUP_KEYS", "MAX_WINDOW", "GroupKey", "StatsRow", "compute_stats"]

GroupKey = Literal["day", "lane", "direction", "citizenship", "doc_type"]
GROUP_KEYS: tuple[GroupKey, ...] = ("day", "lane", "direction", "citizenship", "doc_type")
MAX_WINDOW = timedelta(days=366)
UNKNOWN = "unknown"


@dataclass
class StatsRow:
    group: dict[str, str]
    passages: int = 0
    occupants: int = 0
    captured: int = 0
    quality_passed: int = 0
    confirmations: int = 0
    _crossings: set[int] = field(default_factory=set, repr=False)

    @property
    def capture_rate(self) -> float | None:
        return None if self.occupants == 0 else self.captured / self.occupants


def compute_stats(
    session: Session, *, since: datetime, until: datetime, group_by: Sequence[GroupKey]
) -> list[StatsRow]:
    if until <= since:
        raise InputError("the statistics window is empty: 'until' must be after 'since'")
    if until - since > MAX_WINDOW:
        raise InputError(f"the statistics window is limited to {MAX_WINDOW.days} days")
    ledger_doc = aliased(Document)
    ledger_trav = aliased(Traveller)
    match_doc = aliased(Document)
    match_trav = aliased(Traveller)
    query = (
        select(
            Crossing.id,
            Crossing.started_at,
            Crossing.lane,
            Crossing.direction,
            Occupant.id,
            Occupant.decision,
            Occupant.quality_passed,
            LedgerEntry.id,
            ledger_trav.citizenship,
            ledger_doc.doc_type,
            match_trav.citizenship,
            match_doc.doc_type,
        )
        .select_from(Crossing)
        .outerjoin(Occupant, Occupant.crossing_id == Crossing.id)
        .outerjoin(LedgerEntry, LedgerEntry.occupant_pk == Occupant.id)
        .outerjoin(ledger_doc, LedgerEntry.document_id == ledger_doc.id)
        .outerjoin(ledger_trav, LedgerEntry.traveller_id == ledger_trav.id)
        .outerjoin(match_doc, (Occupant.doc_id == match_doc.doc_id) & (Occupant.decision == "match"))
        .outerjoin(match_trav, match_doc.traveller_id == match_trav.id)
        .where(Crossing.started_at >= since, Crossing.started_at < until)
    )
    rows: dict[tuple[str, ...], StatsRow] = {}
    for crossing_id, started, lane, direction, occ_id, decision, qpass, entry_id, lc, lt, mc, mt in session.execute(
        query
    ):
        values = {
            "day": started.date().isoformat(),
            "lane": lane,
            "direction": direction,
            "citizenship": lc or mc or UNKNOWN,
            "doc_type": lt or mt or UNKNOWN,
        }
        key = tuple(values[k] for k in group_by)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatsRow(group={k: values[k] for k in group_by})
        if crossing_id not in row._crossings:
            row._crossings.add(crossing_id)
            row.passages += 1
        if occ_id is None:
            continue
        row.occupants += 1
        row.captured += decision != "not_captured"
        row.quality_passed += bool(qpass)
        row.confirmations += entry_id is not None
    return [rows[k] for k in sorted(rows)]

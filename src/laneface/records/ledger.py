"""The entry/exit ledger: confirmed arrivals and departures, history per document, stays per traveller."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from laneface.config import RecordsSettings
from laneface.errors import RecordNotFoundError
from laneface.records.domain import DocumentView
from laneface.records.stays import Movement, Stay, compute_stays
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant, Traveller

__all__ = ["DocumentHistory", "LedgerEntryView", "TravellerStays", "document_history", "traveller_stays"]


@dataclass(frozen=True)
class LedgerEntryView:
    movement: str
    at: datetime
    doc_id: str
    doc_type: str
    lane: str
    passage_id: str
    crossing_id: int
    occupant_pk: int
    source: str


@dataclass(frozen=True)
class DocumentHistory:
    document: DocumentView
    entries: tuple[LedgerEntryView, ...]


@dataclass(frozen=True)
class TravellerStays:
    traveller_ref: str
    citizenship: str
    citizen: bool
    stays: tuple[Stay, ...]
    in_country: bool
    overstaying: bool


def document_view(doc: Document, traveller: Traveller) -> DocumentView:
    return DocumentView(
        doc_id=doc.doc_id,
        doc_type=doc.doc_type,
        enrolled=doc.enrolled,
        traveller_ref=traveller.traveller_ref,
        citizenship=traveller.citizenship,
        biometric_opt_out=traveller.biometric_opt_out,
        quality_flags=tuple(str(f) for f in json.loads(doc.quality_flags_json or "[]")),
        has_photo=doc.photo is not None,
    )


def _entries(session: Session, condition: ColumnElement[bool]) -> list[LedgerEntryView]:
    rows = session.execute(
        select(LedgerEntry, Document.doc_id, Document.doc_type, Crossing.lane, Crossing.passage_id, Crossing.id)
        .join(Document, LedgerEntry.document_id == Document.id)
        .join(Occupant, LedgerEntry.occupant_pk == Occupant.id)
        .join(Crossing, Occupant.crossing_id == Crossing.id)
        .where(condition)
        .order_by(LedgerEntry.at, LedgerEntry.id)
    )
    return [
        LedgerEntryView(e.movement, e.at, doc_id, doc_type, lane, passage_id, crossing_id, e.occupant_pk, e.source)
        for e, doc_id, doc_type, lane, passage_id, crossing_id in rows
    ]


def document_history(session: Session, doc_id: str) -> DocumentHistory:
    row = session.execute(
        select(Document, Traveller)
        .join(Traveller, Document.traveller_id == Traveller.id)
        .where(Document.doc_id == doc_id)
    ).first()
    if row is None:
        raise RecordNotFoundError(f"no document {doc_id!r}")
    doc, traveller = row
    return DocumentHistory(document_view(doc, traveller), tuple(_entries(session, LedgerEntry.document_id == doc.id)))


def traveller_stays(
    session: Session, traveller_ref: str, *, now: datetime, records: RecordsSettings, home_country: str
) -> TravellerStays:
    traveller = session.scalar(select(Traveller).where(Traveller.traveller_ref == traveller_ref))
    if traveller is None:
        raise RecordNotFoundError(f"no traveller {traveller_ref!r}")
    movements = [
        Movement(e.movement, e.at, e.doc_id, e.doc_type)
        for e in _entries(session, LedgerEntry.traveller_id == traveller.id)
    ]
    citizen = traveller.citizenship == home_country

    def allowed(doc_type: str) -> int | None:
        return None if citizen else records.admission_days.get(doc_type, records.default_admission_days)

    stays = tuple(compute_stays(movements, now=now, allowed_days=allowed))
    last = stays[-1] if stays else None
    in_country = last is not None and last.ongoing
    return TravellerStays(
        traveller_ref=traveller.traveller_ref,
        citizenship=traveller.citizenship,
        citizen=citizen,
        stays=stays,
        in_country=in_country,
        overstaying=in_country and last is not None and last.overstay_days > 0,
    )

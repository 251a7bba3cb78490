"""Documents and travellers known to the records (written when the gallery enrols a document)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from laneface.errors import RecordNotFoundError, ReviewConflictError
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.documents import flags_json
from laneface.records.domain import DocumentView
from laneface.records.ledger import document_view
from laneface.records.tables import BiometricBlob, Document, DocumentPhoto, LedgerEntry, Occupant, Traveller

__all__ = ["mark_removed", "set_opt_out", "upsert_document"]


def upsert_document(
    session: Session,
    *,
    doc_id: str,
    doc_type: str,
    citizenship: str,
    traveller_ref: str | None,
    opt_out: bool | None,
    now: datetime,
    quality_flags: Sequence[str] = (),
) -> DocumentView:
    """Create or update a document and its traveller (default traveller reference: the doc_id); the
    enrolment's ``quality_flags`` replace the document's."""
    ref = traveller_ref or doc_id
    traveller = session.scalar(select(Traveller).where(Traveller.traveller_ref == ref))
    if traveller is None:
        traveller = Traveller(
            traveller_ref=ref, citizenship=citizenship, biometric_opt_out=bool(opt_out), created_at=now
        )
        session.add(traveller)
    else:
        if traveller.citizenship != citizenship:
            raise ReviewConflictError(
                f"traveller {ref!r} is recorded with citizenship {traveller.citizenship}, not {citizenship}"
            )
        if opt_out is not None:
            traveller.biometric_opt_out = opt_out
    document = session.scalar(select(Document).where(Document.doc_id == doc_id))
    if document is None:
        document = Document(
            doc_id=doc_id,
            doc_type=doc_type,
            traveller=traveller,
            enrolled=True,
            created_at=now,
            quality_flags_json=flags_json(quality_flags),
        )
        session.add(document)
    else:
        if document.traveller_id != traveller.id and document.traveller_id is not None:
            raise ReviewConflictError(f"document {doc_id!r} belongs to another traveller")
        document.doc_type = doc_type
        document.enrolled = True
        document.quality_flags_json = flags_json(quality_flags)
    session.flush()
    return document_view(document, traveller)


def mark_removed(session: Session, doc_id: str) -> DocumentView:
    """The gallery no longer holds this document; its ledger history stays, its photo goes."""
    document = session.scalar(select(Document).where(Document.doc_id == doc_id))
    if document is None:
        raise RecordNotFoundError(f"no document {doc_id!r}")
    document.enrolled = False
    session.execute(delete(DocumentPhoto).where(DocumentPhoto.document_id == document.id))
    session.flush()
    return document_view(document, document.traveller)


def set_opt_out(session: Session, traveller_ref: str, opt_out: bool, *, actor: Actor, now: datetime) -> int:
    """Set a traveller's biometric opt-out. Opting out deletes their stored images, templates and document
    photos at once; returns how many were deleted."""
    traveller = session.scalar(select(Traveller).where(Traveller.traveller_ref == traveller_ref))
    if traveller is None:
        raise RecordNotFoundError(f"no traveller {traveller_ref!r}")
    traveller.biometric_opt_out = opt_out
    deleted = 0
    if opt_out:
        doc_ids = select(Document.doc_id).where(Document.traveller_id == traveller.id)
        occupants = select(Occupant.id).where(Occupant.doc_id.in_(doc_ids))
        confirmed = select(LedgerEntry.occupant_pk).where(LedgerEntry.traveller_id == traveller.id)
        ids = list(
            session.scalars(
                select(BiometricBlob.id).where(
                    BiometricBlob.occupant_pk.in_(occupants) | BiometricBlob.occupant_pk.in_(confirmed)
                )
            )
        )
        if ids:
            session.execute(delete(BiometricBlob).where(BiometricBlob.id.in_(ids)))
        photos = DocumentPhoto.document_id.in_(select(Document.id).where(Document.traveller_id == traveller.id))
        n_photos = session.scalar(select(func.count()).select_from(DocumentPhoto).where(photos)) or 0
        session.execute(delete(DocumentPhoto).where(photos))
        deleted = len(ids) + n_photos
    record_event(
        session,
        at=now,
        actor=actor,
        action=Actions.TRAVELLER_OPT_OUT,
        object_type="traveller",
        object_id=traveller_ref,
        details={"opt_out": opt_out, "biometrics_deleted": deleted},
    )
    return deleted

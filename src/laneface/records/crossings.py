"""Reading crossings (metadata only, never biometric bytes) and recording officers' review decisions."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from laneface.errors import RecordNotFoundError, ReviewConflictError
from laneface.plates import PlateRead
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.domain import CrossingFilter, CrossingView, OccupantView, PassagePrompt, ReviewView
from laneface.records.tables import BiometricBlob, Crossing, Document, LedgerEntry, Occupant, Review

__all__ = ["add_review", "get_crossing", "list_crossings"]


def _review_view(r: Review) -> ReviewView:
    return ReviewView(
        id=r.id,
        occupant_pk=r.occupant_pk,
        decision=r.decision,
        doc_id=r.doc_id,
        officer=r.officer,
        note=r.note,
        decided_at=r.decided_at,
    )


def _view(session: Session, crossing: Crossing) -> CrossingView:
    occupant_ids = [o.id for o in crossing.occupants]
    reviews: dict[int, list[ReviewView]] = {}
    if occupant_ids:
        for r in session.scalars(select(Review).where(Review.occupant_pk.in_(occupant_ids)).order_by(Review.id)):
            reviews.setdefault(r.occupant_pk, []).append(_review_view(r))
    occupants = tuple(
        OccupantView(
            id=o.id,
            occupant_id=o.occupant_id,
            row=o.row,
            quality=o.quality,
            quality_passed=o.quality_passed,
            decision=o.decision,
            doc_id=o.doc_id,
            score=o.score,
            threshold=o.threshold,
            model_version=o.model_version,
            has_face_image=any(b.kind == "face_image" for b in o.blobs),
            has_template=any(b.kind == "template" for b in o.blobs),
            withheld_reason=o.withheld_reason,
            reviews=tuple(reviews.get(o.id, ())),
            stage=o.match_stage,
            list_size=o.list_size,
        )
        for o in crossing.occupants
    )
    timing = json.loads(crossing.timing_json) if crossing.timing_json else None
    prompts = tuple(PassagePrompt(**p) for p in json.loads(crossing.prompts_json)) if crossing.prompts_json else ()
    return CrossingView(
        id=crossing.id,
        passage_id=crossing.passage_id,
        lane=crossing.lane,
        direction=crossing.direction,
        started_at=crossing.started_at,
        received_at=crossing.received_at,
        occupant_count=crossing.occupant_count,
        complete_capture=crossing.complete_capture,
        timing_s=timing,
        occupants=occupants,
        prompts=prompts,
        plate=None
        if crossing.plate_text is None
        else PlateRead(crossing.plate_text, crossing.plate_region, crossing.plate_confidence or 0.0),
        faces_not_counted=crossing.faces_not_counted,
    )


def _with_occupants(query: Select[Crossing]) -> Select[Crossing]:
    # blobs are loaded for has_face_image/has_template only: their ciphertext column is never selected here
    return query.options(selectinload(Crossing.occupants).selectinload(Occupant.blobs).defer(BiometricBlob.ciphertext))


def list_crossings(session: Session, flt: CrossingFilter) -> list[CrossingView]:
    query = select(Crossing)
    if flt.since is not None:
        query = query.where(Crossing.started_at >= flt.since)
    if flt.until is not None:
        query = query.where(Crossing.started_at < flt.until)
    if flt.lane is not None:
        query = query.where(Crossing.lane == flt.lane)
    if flt.direction is not None:
        query = query.where(Crossing.direction == flt.direction)
    if flt.doc_id is not None:
        query = query.where(Crossing.id.in_(select(Occupant.crossing_id).where(Occupant.doc_id == flt.doc_id)))
    query = query.order_by(Crossing.started_at.desc(), Crossing.id.desc()).limit(flt.limit).offset(flt.offset)
    crossings = session.scalars(_with_occupants(query)).all()
    return [_view(session, c) for c in crossings]


def get_crossing(session: Session, crossing_id: int) -> CrossingView:
    crossing = session.scalar(_with_occupants(select(Crossing).where(Crossing.id == crossing_id)))
    if crossing is None:
        raise RecordNotFoundError(f"no crossing {crossing_id}")
    return _view(session, crossing)


def add_review(
    session: Session,
    *,
    occupant_pk: int,
    decision: str,
    doc_id: str | None,
    note: str | None,
    actor: Actor,
    now: datetime,
) -> ReviewView:
    """Record an officer's decision. ``confirmed`` writes (or replaces) the occupant's ledger entry for the
    document (default: the lane's candidate); ``rejected`` removes it; ``referred`` leaves it as it is."""
    occupant = session.get(Occupant, occupant_pk)
    if occupant is None:
        raise RecordNotFoundError(f"no occupant {occupant_pk}")
    chosen = doc_id if doc_id is not None else occupant.doc_id
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.occupant_pk == occupant_pk))
    if decision == "confirmed":
        if chosen is None:
            raise ReviewConflictError("a confirmation needs a doc_id: the lane found no candidate document")
        document = session.scalar(select(Document).where(Document.doc_id == chosen))
        if document is None:
            raise ReviewConflictError(f"document {chosen!r} is not known to the records")
        crossing = occupant.crossing
        if entry is None:
            entry = LedgerEntry(occupant_pk=occupant_pk)
            session.add(entry)
        entry.traveller_id = document.traveller_id
        entry.document_id = document.id
        entry.movement = "arrival" if crossing.direction == "inbound" else "departure"
        entry.at = crossing.started_at
        entry.source = "officer"
    elif decision == "rejected" and entry is not None:
        session.delete(entry)
    review = Review(
        occupant_pk=occupant_pk,
        decision=decision,
        doc_id=chosen if decision == "confirmed" else doc_id,
        officer=actor.name,
        note=note,
        decided_at=now,
    )
    session.add(review)
    session.flush()
    record_event(
        session,
        at=now,
        actor=actor,
        action=Actions.REVIEW_CREATE,
        object_type="occupant",
        object_id=str(occupant_pk),
        details={"decision": decision, "doc_id": review.doc_id},
    )
    return _review_view(review)

"""Storing lane passages: idempotent on (passage_id, lane), opted-out travellers' biometrics never stored."""

from __future__ import annotations

import io
import json
import warnings
from datetime import datetime

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from laneface.errors import (
    CorruptImageError,
    EmptyImageError,
    IdempotencyConflictError,
    ImageTooLargeError,
    InputError,
    UnsupportedImageError,
)
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.biometrics import store_biometric
from laneface.records.crypto import BlobCipher
from laneface.records.domain import PassageReceipt, PassageSubmission
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant, Traveller

__all__ = ["check_jpeg", "check_template", "ingest_passage", "receipt_of"]

MAX_TEMPLATE_DIM = 4096


def check_jpeg(data: bytes, *, max_bytes: int, max_pixels: int, source: str) -> None:
    """Refuse anything that is not a JPEG within the limits, from its header (nothing is decoded)."""
    if not data:
        raise EmptyImageError(f"{source}: empty image")
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"{source}: {len(data)} bytes, the limit is {max_bytes}")
    if not data.startswith(b"\xff\xd8\xff"):
        raise UnsupportedImageError(f"{source}: not a JPEG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                fmt = img.format
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise CorruptImageError(f"{source}: the JPEG header cannot be read") from None
    if fmt != "JPEG":
        raise UnsupportedImageError(f"{source}: not a JPEG image")
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{source}: {width}x{height} pixels, the limit is {max_pixels}")


def check_template(data: bytes, *, source: str) -> None:
    """A template is little-endian float32 values: 1 to 4096 of them."""
    if not data or len(data) % 4 or len(data) // 4 > MAX_TEMPLATE_DIM:
        raise InputError(f"{source}: a template must be 1 to {MAX_TEMPLATE_DIM} float32 values")


def receipt_of(session: Session, crossing: Crossing) -> PassageReceipt:
    withheld = sum(1 for o in crossing.occupants if o.withheld_reason is not None)
    return PassageReceipt(
        crossing_id=crossing.id,
        passage_id=crossing.passage_id,
        lane=crossing.lane,
        received_at=crossing.received_at,
        occupants=len(crossing.occupants),
        images_withheld=withheld,
    )


def _documents(session: Session, doc_ids: set[str]) -> dict[str, tuple[Document, Traveller]]:
    if not doc_ids:
        return {}
    rows = session.execute(
        select(Document, Traveller)
        .join(Traveller, Document.traveller_id == Traveller.id)
        .where(Document.doc_id.in_(doc_ids))
    )
    return {doc.doc_id: (doc, traveller) for doc, traveller in rows}


def ingest_passage(
    session: Session,
    cipher: BlobCipher,
    submission: PassageSubmission,
    *,
    now: datetime,
    actor: Actor,
    auto_confirm: bool,
) -> tuple[PassageReceipt, bool]:
    """Store a passage in the session's transaction. Returns (receipt, created).

    A second submission with the same (passage_id, lane) returns the first one's receipt when the bodies
    are equal and raises :class:`IdempotencyConflictError` otherwise. The images and templates of
    occupants whose document belongs to an opted-out traveller are dropped before anything is stored.
    """
    body_hash = submission.body_sha256()
    existing = session.scalar(
        select(Crossing).where(Crossing.passage_id == submission.passage_id, Crossing.lane == submission.lane)
    )
    if existing is not None:
        if existing.body_sha256 != body_hash:
            raise IdempotencyConflictError(
                f"passage {submission.passage_id!r} of lane {submission.lane!r} was already stored with a "
                "different body"
            )
        return receipt_of(session, existing), False

    documents = _documents(session, {o.doc_id for o in submission.occupants if o.doc_id})
    crossing = Crossing(
        passage_id=submission.passage_id,
        lane=submission.lane,
        direction=submission.direction,
        started_at=submission.started_at,
        received_at=now,
        occupant_count=submission.occupant_count,
        complete_capture=submission.complete_capture,
        timing_json=None if submission.timing_s is None else json.dumps(submission.timing_s, sort_keys=True),
        body_sha256=body_hash,
        prompts_json=json.dumps([p.as_json() for p in submission.prompts]) if submission.prompts else None,
        faces_not_counted=submission.faces_not_counted,
    )
    if submission.plate is not None:
        plate = submission.plate
        crossing.plate_key = plate.key
        crossing.plate_text = plate.text
        crossing.plate_region = plate.region
        crossing.plate_confidence = plate.confidence
    session.add(crossing)
    stored = {"face_image": 0, "template": 0}
    for sub in submission.occupants:
        known = documents.get(sub.doc_id) if sub.doc_id else None
        opted_out = known is not None and known[1].biometric_opt_out
        occupant = Occupant(
            occupant_id=sub.occupant_id,
            row=sub.row,
            quality=sub.quality,
            quality_passed=sub.quality_passed,
            decision=sub.decision,
            doc_id=sub.doc_id,
            score=sub.score,
            threshold=sub.threshold,
            model_version=sub.model_version,
            withheld_reason="opted_out" if opted_out else None,
            match_stage=sub.stage,
            list_size=sub.list_size,
        )
        crossing.occupants.append(occupant)
        if not opted_out:
            for kind, data, ctype in (
                ("face_image", sub.image_jpeg, "image/jpeg"),
                ("template", sub.template, "application/x-float32le"),
            ):
                if data is not None:
                    store_biometric(session, cipher, occupant, kind=kind, data=data, content_type=ctype, now=now)
                    stored[kind] += 1
        if auto_confirm and sub.decision == "match" and known is not None and known[0].enrolled:
            session.add(
                LedgerEntry(
                    traveller_id=known[1].id,
                    document_id=known[0].id,
                    occupant=occupant,
                    movement="arrival" if submission.direction == "inbound" else "departure",
                    at=submission.started_at,
                    source="automatic",
                )
            )
    session.flush()
    receipt = receipt_of(session, crossing)
    record_event(
        session,
        at=now,
        actor=actor,
        action=Actions.PASSAGE_CREATE,
        object_type="crossing",
        object_id=str(crossing.id),
        details={
            "passage_id": submission.passage_id,
            "lane": submission.lane,
            "occupants": receipt.occupants,
            "images_stored": stored["face_image"],
            "templates_stored": stored["template"],
            "withheld": receipt.images_withheld,
        },
    )
    return receipt, True

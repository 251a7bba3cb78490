"""Document photos in the records: stored encrypted at enrolment, read (audited) for adjudication side by side
with the lane's best shot, deleted with the document's biometric data."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from laneface.errors import BiometricDataUnavailableError, EncryptionError, InputError, RecordNotFoundError
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.crypto import BlobCipher
from laneface.records.tables import Document, DocumentPhoto

__all__ = [
    "DOCUMENT_PHOTO",
    "EnrolledDocument",
    "check_document_fields",
    "drop_stale_photo",
    "flags_json",
    "photo_content_type",
    "photo_context",
    "read_document_photo",
    "store_document_photo",
]

DOCUMENT_PHOTO = "document_photo"  # the object type of its audit events and the context of its encryption

# formats a browser shows as they are; other accepted formats are converted to PNG before they are stored
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)
_CITIZENSHIP = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class EnrolledDocument:
    """What the records keep of one gallery enrolment: the document, its traveller (default: the doc_id), the
    photo (``None``: not stored), the enrolment's quality flags and the sha256 of the image the gallery
    enrolled (``""``: unknown; without a photo, a stored photo of that very image is kept, any other goes)."""

    doc_id: str
    doc_type: str
    citizenship: str
    traveller_ref: str | None = None
    photo: bytes | None = None
    quality_flags: tuple[str, ...] = ()
    image_sha256: str = ""


def check_document_fields(doc_id: str, doc_type: str, citizenship: str) -> None:
    """The records' rules for what a manifest row or an upload names (the API schema checks the same)."""
    if not doc_id or len(doc_id) > 64:
        raise InputError(f"document id {doc_id!r} must have 1 to 64 characters")
    if not doc_type or len(doc_type) > 32:
        raise InputError(f"document {doc_id!r}: doc_type {doc_type!r} must have 1 to 32 characters")
    if not _CITIZENSHIP.match(citizenship):
        raise InputError(f"document {doc_id!r}: citizenship {citizenship!r} is not a 3-letter country code")


def flags_json(flags: Sequence[str]) -> str:
    return json.dumps([str(f) for f in flags])


def photo_content_type(data: bytes) -> tuple[bytes, str]:
    """``(bytes to store, media type)``: JPEG, PNG, GIF and BMP as they are, any other readable image as PNG."""
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return data, media
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return data, "image/webp"
    from laneface.imageio import decode_image, encode_png

    return encode_png(decode_image(data, source="document photo")), "image/png"


def photo_context(photo_id: str) -> str:
    return f"{DOCUMENT_PHOTO}:{photo_id}"


def store_document_photo(
    session: Session, cipher: BlobCipher, document: Document, data: bytes, *, now: datetime
) -> None:
    """Store (or replace) the document's photo, encrypted."""
    stored, media = photo_content_type(data)
    existing = session.scalar(select(DocumentPhoto).where(DocumentPhoto.document_id == document.id))
    if existing is not None:
        session.delete(existing)
        session.flush()
    photo_id = uuid.uuid4().hex
    key_id, sealed = cipher.encrypt(stored, photo_context(photo_id))
    session.add(
        DocumentPhoto(
            id=photo_id, document=document, created_at=now, key_id=key_id, content_type=media, ciphertext=sealed
        )
    )


def drop_stale_photo(session: Session, cipher: BlobCipher | None, document: Document, image_sha256: str) -> None:
    """A re-enrolment without a photo: keep the stored photo only when it is shown to be the very image the
    gallery enrolled (``image_sha256``); one that cannot be shown so (no digest, no key to read it, another
    image) goes, for an officer must never adjudicate against a photo that is not the gallery's."""
    existing = session.scalar(select(DocumentPhoto).where(DocumentPhoto.document_id == document.id))
    if existing is None:
        return
    if image_sha256 and cipher is not None:
        try:
            data = cipher.decrypt(existing.key_id, existing.ciphertext, photo_context(existing.id))
        except EncryptionError:
            data = b""
        if hashlib.sha256(data).hexdigest() == image_sha256:
            return
    session.delete(existing)
    session.flush()


def read_document_photo(
    session: Session, cipher: BlobCipher, *, doc_id: str, actor: Actor, now: datetime, purpose: str
) -> tuple[bytes, str]:
    """Decrypt a document's photo; the read, or the attempt, is audited in the same transaction (the caller
    commits before letting an exception through)."""
    document = session.scalar(select(Document).where(Document.doc_id == doc_id))
    photo = None if document is None else document.photo
    details: dict[str, object] = {"purpose": purpose}

    def audit(outcome: str, extra: dict[str, object]) -> None:
        record_event(
            session,
            at=now,
            actor=actor,
            action=Actions.BIOMETRIC_READ,
            outcome=outcome,
            object_type=DOCUMENT_PHOTO,
            object_id=doc_id,
            details=details | extra,
        )

    if document is None:
        audit("not_found", {})
        raise RecordNotFoundError(f"no document {doc_id!r}")
    if photo is None:
        audit("unavailable", {})
        raise BiometricDataUnavailableError(f"no document photo is stored for {doc_id!r}")
    try:
        data = cipher.decrypt(photo.key_id, photo.ciphertext, photo_context(photo.id))
    except EncryptionError as exc:
        audit("error", {"photo_id": photo.id, "error": type(exc).__name__, "key_id": photo.key_id})
        raise
    audit("ok", {"photo_id": photo.id, "bytes": len(data)})
    return data, photo.content_type

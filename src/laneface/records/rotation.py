"""Encryption key rotation: re-encrypt every biometric blob and document photo with a new key, batch by batch.

Resumable: blobs already under the new key are skipped, each batch is committed on its own. When it has
finished, no blob needs the old keys any more and they may be removed from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from laneface.records.audit import Actions, Actor, record_event
from laneface.records.biometrics import blob_context
from laneface.records.crypto import BlobCipher
from laneface.records.documents import photo_context
from laneface.records.tables import BiometricBlob, DocumentPhoto

__all__ = ["RotationReport", "rotate_blobs"]


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    re_encrypted: int
    remaining_other_keys: int


def rotate_blobs(
    sessions: sessionmaker[Session], cipher: BlobCipher, *, actor: Actor, now: datetime, batch: int = 200
) -> RotationReport:
    """Re-encrypt every blob not under ``cipher.current_key_id`` (``cipher`` must also hold the old keys)."""
    new_id = cipher.current_key_id
    done = 0
    while True:
        with sessions.begin() as session:
            blobs = session.scalars(
                select(BiometricBlob).where(BiometricBlob.key_id != new_id).order_by(BiometricBlob.id).limit(batch)
            ).all()
            if not blobs:
                break
            for blob in blobs:
                context = blob_context(blob.kind, blob.id)
                plaintext = cipher.decrypt(blob.key_id, blob.ciphertext, context)
                blob.key_id, blob.ciphertext = cipher.encrypt(plaintext, context)
            done += len(blobs)
    while True:
        with sessions.begin() as session:
            photos = session.scalars(
                select(DocumentPhoto).where(DocumentPhoto.key_id != new_id).order_by(DocumentPhoto.id).limit(batch)
            ).all()
            if not photos:
                break
            for photo in photos:
                context = photo_context(photo.id)
                plaintext = cipher.decrypt(photo.key_id, photo.ciphertext, context)
                photo.key_id, photo.ciphertext = cipher.encrypt(plaintext, context)
            done += len(photos)
    with sessions.begin() as session:
        remaining = (
            session.scalar(select(func.count()).select_from(BiometricBlob).where(BiometricBlob.key_id != new_id)) or 0
        ) + (session.scalar(select(func.count()).select_from(DocumentPhoto).where(DocumentPhoto.key_id != new_id)) or 0)
        record_event(
            session,
            at=now,
            actor=actor,
            action=Actions.KEY_ROTATE,
            object_type="biometric_blobs",
            details={"new_key_id": new_id, "re_encrypted": done, "remaining_other_keys": remaining},
        )
    return RotationReport(new_key_id=new_id, re_encrypted=done, remaining_other_keys=remaining)

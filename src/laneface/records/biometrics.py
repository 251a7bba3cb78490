"""Encrypted storage of face images and templates; the only place they are decrypted for a reader."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from laneface.errors import BiometricDataUnavailableError, EncryptionError
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.crypto import BlobCipher
from laneface.records.tables import BiometricBlob, Occupant

__all__ = ["blob_context", "read_biometric", "store_biometric"]


def blob_context(kind: str, blob_id: str) -> str:
    return f"{kind}:{blob_id}"


def store_biometric(
    session: Session,
    cipher: BlobCipher,
    occupant: Occupant,
    *,
    kind: str,
    data: bytes,
    content_type: str,
    now: datetime,
) -> BiometricBlob:
    blob_id = uuid.uuid4().hex
    key_id, sealed = cipher.encrypt(data, blob_context(kind, blob_id))
    blob = BiometricBlob(
        id=blob_id,
        occupant=occupant,
        kind=kind,
        created_at=now,
        key_id=key_id,
        content_type=content_type,
        ciphertext=sealed,
    )
    session.add(blob)
    return blob


def read_biometric(
    session: Session,
    cipher: BlobCipher,
    *,
    occupant_pk: int,
    kind: str,
    actor: Actor,
    now: datetime,
    purpose: str,
) -> tuple[bytes, str]:
    """Decrypt one occupant's face image or template and write the audit event in the same transaction.

    A read that finds nothing (``unavailable``) or cannot decrypt (``error``) is audited too; the caller
    commits before letting the exception through."""
    blob = session.scalar(
        select(BiometricBlob).where(BiometricBlob.occupant_pk == occupant_pk, BiometricBlob.kind == kind)
    )
    details: dict[str, object] = {"purpose": purpose}
    if blob is None:
        record_event(
            session,
            at=now,
            actor=actor,
            action=Actions.BIOMETRIC_READ,
            outcome="unavailable",
            object_type=kind,
            object_id=str(occupant_pk),
            details=details,
        )
        raise BiometricDataUnavailableError(f"no {kind.replace('_', ' ')} is stored for occupant {occupant_pk}")
    details["blob_id"] = blob.id
    try:
        data = cipher.decrypt(blob.key_id, blob.ciphertext, blob_context(kind, blob.id))
    except EncryptionError as exc:
        record_event(
            session,
            at=now,
            actor=actor,
            action=Actions.BIOMETRIC_READ,
            outcome="error",
            object_type=kind,
            object_id=str(occupant_pk),
            details=details | {"error": type(exc).__name__, "key_id": blob.key_id},
        )
        raise
    details["bytes"] = len(data)
    record_event(
        session,
        at=now,
        actor=actor,
        action=Actions.BIOMETRIC_READ,
        object_type=kind,
        object_id=str(occupant_pk),
        details=details,
    )
    return data, blob.content_type

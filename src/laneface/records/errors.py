"""Errors of the records, privacy and service layer (all derive from :class:`laneface.errors.LanefaceError`).

None of them knows about HTTP: ``laneface.api.errors`` maps each class to a status code in one place.

::

    LanefaceError
    ├── ConfigError                       (laneface.errors)
    │   └── InsecureConfigError           missing or placeholder secrets (API keys, encryption key)
    └── RecordsError                      records database, privacy and service errors
        ├── DatabaseError                 the records database cannot be reached or migrated
        ├── RecordNotFoundError           no record with that identifier
        ├── IdempotencyConflictError      same idempotency key (passage_id + lane), different body
        ├── ReviewConflictError           a review that contradicts the record (unknown document...)
        ├── BiometricDataUnavailableError the image/template was never stored, withheld or purged
        ├── EncryptionError               biometric blob encryption problems
        │   ├── UnknownKeyError           the blob was encrypted with a key that is not configured
        │   └── DecryptionError           the blob fails authentication (tampered, wrong key material)
        └── GalleryUnavailableError       no gallery is wired into the service
"""

from __future__ import annotations

from laneface.errors import ConfigError, LanefaceError

__all__ = [
    "BiometricDataUnavailableError",
    "DatabaseError",
    "DecryptionError",
    "EncryptionError",
    "GalleryUnavailableError",
    "IdempotencyConflictError",
    "InsecureConfigError",
    "RecordNotFoundError",
    "RecordsError",
    "ReviewConflictError",
    "UnknownKeyError",
]


class InsecureConfigError(ConfigError):
    """A secret is missing or is a known placeholder; the service refuses to start with it."""


class RecordsError(LanefaceError):
    """Base class of the records, privacy and service errors."""


class DatabaseError(RecordsError):
    """The records database cannot be reached, or its schema cannot be migrated."""


class RecordNotFoundError(RecordsError):
    """No record with the given identifier."""


class IdempotencyConflictError(RecordsError):
    """A passage with the same idempotency key (passage_id + lane) was stored with a different body."""


class ReviewConflictError(RecordsError):
    """A review decision that cannot be applied to the record as it is."""


class BiometricDataUnavailableError(RecordsError):
    """The face image or template was never stored (opt-out, not captured) or has been purged."""


class EncryptionError(RecordsError):
    """Biometric data cannot be encrypted or decrypted."""


class UnknownKeyError(EncryptionError):
    """The blob was encrypted with a key that is not among the configured keys."""


class DecryptionError(EncryptionError):
    """The blob does not authenticate under its key: it was altered or the key material is wrong."""


class GalleryUnavailableError(RecordsError):
    """No gallery is wired into the service, or the gallery backend is not reachable."""

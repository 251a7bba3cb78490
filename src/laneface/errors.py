"""Exception tree of laneface: every error class of the product is defined here.

Every error raised on purpose by laneface derives from :class:`LanefaceError`, so callers can catch
one type. Messages are written for the person who gave the input: they say what was wrong and, where
it helps, what to do. They never contain secrets. None of them knows about HTTP: ``laneface.api.errors``
maps classes to status codes in one place.

::

    LanefaceError
    ├── ConfigError                        invalid settings or option values
    │   └── InsecureConfigError            missing or placeholder secrets (API keys, encryption key)
    ├── InputError                         something a user handed us is unusable
    │   ├── InvalidImageError              bytes/file that is not a usable image
    │   │   ├── EmptyImageError            zero bytes
    │   │   ├── CorruptImageError          truncated or undecodable data
    │   │   ├── UnsupportedImageError      a format or pixel layout we do not read
    │   │   └── ImageTooLargeError         byte size or pixel count over the limit (decompression bombs)
    │   ├── InvalidVideoError              missing, empty or undecodable video
    │   │   └── TruncatedVideoError        far fewer frames decoded than the video declares (corrupt)
    │   ├── InvalidResultsError            a `laneface run` JSON Lines file that cannot be imported
    │   ├── InvalidDatasetError            malformed evaluation input (pairs file, missing LFW image)
    │   ├── InvalidPassageError            a passage directory or its passage.json that breaks the format
    │   ├── FailureToEnrolError            a document photo that cannot be enrolled (recorded as an FTE)
    │   └── EnrolmentRejectedError         an uploaded document photo that failed to enrol (service answer)
    ├── InvalidTokenError                  a bearer token that does not authenticate (the API answers 401)
    ├── ModelError                         problems with model files or their backends
    │   ├── ModelNotFoundError             no file for a model in any search location
    │   ├── ChecksumError                  a model file's sha256 differs from its ModelSpec
    │   ├── ModelDownloadError             `models pull` could not fetch a file
    │   └── BackendUnavailableError        the Python package a backend needs is not installed
    ├── UnknownComponentError              a detector/embedder/model name that is not registered
    ├── GalleryError                       the gallery, its index or its thresholds cannot do what was asked
    │   ├── ModelVersionMismatchError      a template of another model version than the gallery's/thresholds'
    │   ├── DocumentNotFoundError          verify/1:few against a doc_id that is not enrolled
    │   ├── ManifestError                  an enrolment manifest that cannot be read at all (header, encoding)
    │   ├── IndexStateError                index files that are missing, corrupt or disagree with the metadata
    │   ├── UncalibratedModelError         no thresholds for a model version (run `laneface calibrate`)
    │   └── CalibrationRangeError          a target FMR/FPIR deeper than the impostor scores can support
    ├── RecordsError                       records database, privacy and service errors
    │   ├── DatabaseError                  the records database cannot be reached or migrated
    │   ├── RecordNotFoundError            no record with that identifier
    │   ├── IdempotencyConflictError       same idempotency key (passage_id + lane), different body
    │   ├── ReviewConflictError            a review that contradicts the record (unknown document...)
    │   ├── BiometricDataUnavailableError  the image/template was never stored, withheld or purged
    │   ├── EncryptionError                biometric blob encryption problems
    │   │   ├── UnknownKeyError            the blob was encrypted with a key that is not configured
    │   │   └── DecryptionError            the blob fails authentication (tampered, wrong key material)
    │   └── GalleryUnavailableError        no gallery is wired into the service
    ├── OutboxError                        the lane's outbox cannot be opened, locked or written
    │   └── OutboxConflictError            same idempotency key (lane + passage_id), different body
    └── ServiceStartError                  `bench service`: the service process did not start or answer

Invalid ``lane.toml`` files raise :class:`ConfigError`, invalid trigger events :class:`InputError`.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "BiometricDataUnavailableError",
    "CalibrationRangeError",
    "ChecksumError",
    "ConfigError",
    "CorruptImageError",
    "DatabaseError",
    "DecryptionError",
    "DocumentNotFoundError",
    "EmptyImageError",
    "EncryptionError",
    "EnrolmentRejectedError",
    "FailureToEnrolError",
    "GalleryError",
    "GalleryUnavailableError",
    "IdempotencyConflictError",
    "ImageTooLargeError",
    "IndexStateError",
    "InputError",
    "InsecureConfigError",
    "InvalidDatasetError",
    "InvalidImageError",
    "InvalidPassageError",
    "InvalidResultsError",
    "InvalidTokenError",
    "InvalidVideoError",
    "LanefaceError",
    "ManifestError",
    "ModelDownloadError",
    "ModelError",
    "ModelNotFoundError",
    "ModelVersionMismatchError",
    "OutboxConflictError",
    "OutboxError",
    "RecordNotFoundError",
    "RecordsError",
    "ReviewConflictError",
    "ServiceStartError",
    "TruncatedVideoError",
    "UncalibratedModelError",
    "UnknownComponentError",
    "UnknownKeyError",
    "UnsupportedImageError",
]


class LanefaceError(Exception):
    """Base class of every error laneface raises on purpose."""


# ---------------------------------------------------------------------------------------------- settings
class ConfigError(LanefaceError):
    """Settings or command-line option values that cannot be used."""


class InsecureConfigError(ConfigError):
    """A secret is missing or is a known placeholder; the service refuses to start with it."""


# ---------------------------------------------------------------------------------------------- user input
class InputError(LanefaceError):
    """Input given by a user (image, video, dataset) that cannot be used."""


class InvalidImageError(InputError):
    """Bytes or a file that do not hold a usable image."""


class EmptyImageError(InvalidImageError):
    """The image data has zero bytes."""


class CorruptImageError(InvalidImageError):
    """The image data is truncated or cannot be decoded."""


class UnsupportedImageError(InvalidImageError):
    """A format or pixel layout that laneface does not read."""


class ImageTooLargeError(InvalidImageError):
    """The image is larger (bytes or pixels) than the configured limit."""


class InvalidVideoError(InputError):
    """A video that is missing, empty or cannot be decoded."""


class TruncatedVideoError(InvalidVideoError):
    """A video that decodes far fewer frames than its container declares (bytes overwritten, cut off)."""

    def __init__(self, message: str, *, camera: str, decoded: int, declared: int) -> None:
        super().__init__(message)
        self.camera = camera
        self.decoded = decoded
        self.declared = declared


class InvalidResultsError(InputError):
    """A ``laneface run`` JSON Lines file with a line that is not a passage result (line number in the message)."""


class InvalidDatasetError(InputError):
    """Evaluation input that is malformed: a pairs file, a missing dataset image."""


class InvalidPassageError(InputError):
    """A passage directory that breaks the passage format: no or malformed ``passage.json``, a field of the
    wrong type or value, a camera file outside the directory. Unreadable videos are :class:`InvalidVideoError`."""


class FailureToEnrolError(InputError):
    """A document photo that cannot be enrolled: unreadable, no face, several faces, quality not met.
    The enroller records it as a failure to enrol (FTE) with ``str(error)`` as the reason."""


class EnrolmentRejectedError(InputError):
    """A document photo that cannot be enrolled: unreadable, no face, several faces, quality not met.
    The failure to enrol (FTE) is recorded with the same reason before this is raised."""


class InvalidTokenError(LanefaceError):
    """A bearer token that does not authenticate (kept inside the API layer; the route answers 401)."""


# ---------------------------------------------------------------------------------------------- models
class ModelError(LanefaceError):
    """A model file or model backend cannot be used."""


class ModelNotFoundError(ModelError):
    """No file for a model was found in any search location."""


class ChecksumError(ModelError):
    """A model file's sha256 differs from the one in its ModelSpec."""


class ModelDownloadError(ModelError):
    """A model file could not be downloaded."""


class BackendUnavailableError(ModelError):
    """The Python package a backend needs is not installed."""


class UnknownComponentError(LanefaceError):
    """A detector, embedder or model name that is not registered."""


# ---------------------------------------------------------------------------------------------- gallery
class GalleryError(LanefaceError):
    """The gallery, its vector index or its thresholds cannot do what was asked."""


class ModelVersionMismatchError(GalleryError):
    """A template made by another model version than the gallery's: such templates are never compared."""


class DocumentNotFoundError(GalleryError):
    """A doc_id that is not enrolled in the gallery."""


class ManifestError(GalleryError):
    """An enrolment manifest that cannot be read at all (missing file, missing required column)."""


class IndexStateError(GalleryError):
    """Vector index files that are missing, corrupt, or of another dimension or metric."""


class UncalibratedModelError(GalleryError):
    """No decision thresholds are stored for a model version."""


class CalibrationRangeError(GalleryError):
    """A target FMR/FPIR below what the calibration's impostor scores can estimate."""


# ---------------------------------------------------------------------------------------------- records
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


# ---------------------------------------------------------------------------------------------- lane edge
class OutboxError(LanefaceError):
    """The lane's outbox cannot be used: another lane process holds it, the file is not an outbox, the disk
    refuses a write."""


class OutboxConflictError(OutboxError):
    """A record with the same idempotency key (lane + passage_id) is already in the outbox with another body."""


# ---------------------------------------------------------------------------------------------- benchmarks
class ServiceStartError(LanefaceError):
    """The service process did not start or did not answer its health check in time."""

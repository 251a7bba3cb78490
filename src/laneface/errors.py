"""Exception tree of laneface.

Every error raised on purpose by laneface derives from :class:`LanefaceError`, so callers can catch
one type. Messages are written for the person who gave the input: they say what was wrong and, where
it helps, what to do. They never contain secrets.

::

    LanefaceError
    ├── ConfigError                  invalid settings or option values
    │   └── InsecureConfigError      (records.errors) missing or placeholder secrets for `serve`
    ├── InputError                   something a user handed us is unusable
    │   ├── InvalidImageError        bytes/file that is not a usable image
    │   │   ├── EmptyImageError      zero bytes
    │   │   ├── CorruptImageError    truncated or undecodable data
    │   │   ├── UnsupportedImageError  a format or pixel layout we do not read
    │   │   └── ImageTooLargeError   byte size or pixel count over the limit (decompression bombs)
    │   ├── InvalidVideoError        missing, empty or undecodable video
    │   ├── InvalidDatasetError      malformed evaluation input (pairs file, missing LFW image)
    │   └── InvalidPassageError      a passage directory or its passage.json that breaks the format
    ├── ModelError                   problems with model files or their backends
    │   ├── ModelNotFoundError       no file for a model in any search location
    │   ├── ChecksumError            a model file's sha256 differs from its ModelSpec
    │   ├── ModelDownloadError       `models pull` could not fetch a file
    │   └── BackendUnavailableError  the Python package a backend needs is not installed
    ├── UnknownComponentError        a detector/embedder/model name that is not registered
    ├── RecordsError                 (records.errors) crossing records and the service
    │   ├── DatabaseError, RecordNotFoundError, IdempotencyConflictError, ReviewConflictError
    │   ├── BiometricDataUnavailableError, GalleryUnavailableError
    │   └── EncryptionError ── UnknownKeyError, DecryptionError
    └── OutboxError                  (edge.errors) the lane's outbox cannot be opened, locked or written
        └── OutboxConflictError      same idempotency key (lane + passage_id), different body

Subsystem errors live next to their code (``laneface.records.errors``, ``laneface.edge.errors``) and derive
from these classes.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "ChecksumError",
    "ConfigError",
    "CorruptImageError",
    "EmptyImageError",
    "ImageTooLargeError",
    "InputError",
    "InvalidDatasetError",
    "InvalidImageError",
    "InvalidPassageError",
    "InvalidVideoError",
    "LanefaceError",
    "ModelDownloadError",
    "ModelError",
    "ModelNotFoundError",
    "UnknownComponentError",
    "UnsupportedImageError",
]


class LanefaceError(Exception):
    """Base class of every error laneface raises on purpose."""


class ConfigError(LanefaceError):
    """Settings or command-line option values that cannot be used."""


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


class InvalidDatasetError(InputError):
    """Evaluation input that is malformed: a pairs file, a missing dataset image."""


class InvalidPassageError(InputError):
    """A passage directory that breaks the passage format: no or malformed ``passage.json``, a field of the
    wrong type or value, a camera file outside the directory. Unreadable videos are :class:`InvalidVideoError`."""


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

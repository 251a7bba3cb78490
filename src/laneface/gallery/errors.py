"""Errors of the gallery, enrolment and matching.

``GalleryError`` derives from :class:`laneface.errors.LanefaceError` (the CLI prints one ``error:`` line
and exits with status 2). It is meant to move into :mod:`laneface.errors`; until then it lives here.

::

    LanefaceError
    └── GalleryError                 the gallery, its index or its thresholds cannot do what was asked
        ├── ModelVersionMismatchError  a template of another model version than the gallery's/thresholds'
        ├── DocumentNotFoundError      verify/1:few against a doc_id that is not enrolled
        ├── ManifestError              an enrolment manifest that cannot be read at all (header, encoding)
        ├── IndexStateError            index files that are missing, corrupt or disagree with the metadata
        ├── UncalibratedModelError     no thresholds for a model version (run `laneface calibrate`)
        └── CalibrationRangeError      a target FMR/FPIR deeper than the impostor scores can support
    InputError
    └── EnrolmentRejectedError       an uploaded document photo that fails to enrol (no face, quality...)
"""

from __future__ import annotations

from laneface.errors import InputError, LanefaceError

__all__ = [
    "CalibrationRangeError",
    "DocumentNotFoundError",
    "EnrolmentRejectedError",
    "GalleryError",
    "IndexStateError",
    "ManifestError",
    "ModelVersionMismatchError",
    "UncalibratedModelError",
]


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


class EnrolmentRejectedError(InputError):
    """A document photo that cannot be enrolled: unreadable, no face, several faces, quality not met.
    The failure to enrol (FTE) is recorded with the same reason before this is raised."""

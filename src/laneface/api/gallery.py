"""The gallery as seen by administrators: a small Protocol the real gallery (``laneface.gallery``) implements.

Until a gallery is wired into :func:`laneface.api.app.create_app`, :class:`UnavailableGallery` answers every
call with :class:`~laneface.errors.GalleryUnavailableError` (HTTP 503).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from laneface.errors import GalleryUnavailableError

__all__ = ["GalleryAdmin", "GalleryInfo", "UnavailableGallery"]


@dataclass(frozen=True)
class GalleryInfo:
    backend: str
    documents: int
    model_version: str | None = None


@runtime_checkable
class GalleryAdmin(Protocol):
    def enroll(self, doc_id: str, image_bytes: bytes, doc_type: str, citizenship: str) -> Sequence[str] | None:
        """Make a template of the document photo and add (or replace) it under ``doc_id``; returns the
        enrolment's quality flags (None: the gallery does not report them).

        Raises an :class:`~laneface.errors.InputError` subclass for an unusable photo (HTTP 422).
        """
        ...

    def remove(self, doc_id: str) -> bool:
        """Remove the document's template; False when the gallery does not hold it."""
        ...

    def info(self) -> GalleryInfo: ...


class UnavailableGallery:
    """The default until the real gallery is wired in: every call fails with GalleryUnavailableError."""

    def _fail(self) -> GalleryUnavailableError:
        return GalleryUnavailableError("no gallery is configured for this service")

    def enroll(self, doc_id: str, image_bytes: bytes, doc_type: str, citizenship: str) -> None:
        raise self._fail()

    def remove(self, doc_id: str) -> bool:
        raise self._fail()

    def info(self) -> GalleryInfo:
        raise self._fail()

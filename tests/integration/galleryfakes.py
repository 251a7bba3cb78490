"""An in-memory :class:`~laneface.api.gallery.GalleryAdmin` for the service tests (no models, no FAISS)."""

from __future__ import annotations

from laneface.api.gallery import GalleryInfo
from laneface.errors import EmptyImageError

__all__ = ["InMemoryGallery"]


class InMemoryGallery:
    """Keeps the enrolled photos' sizes only (no templates): enough to exercise the admin endpoints."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[str, str, int]] = {}

    def enroll(self, doc_id: str, image_bytes: bytes, doc_type: str, citizenship: str) -> None:
        if not image_bytes:
            raise EmptyImageError(f"document {doc_id!r}: empty photo")
        self.documents[doc_id] = (doc_type, citizenship, len(image_bytes))

    def remove(self, doc_id: str) -> bool:
        return self.documents.pop(doc_id, None) is not None

    def info(self) -> GalleryInfo:
        return GalleryInfo(backend="in-memory", documents=len(self.documents), model_version=None)

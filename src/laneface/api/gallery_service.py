"""The gallery behind the service's admin endpoints (:class:`laneface.api.gallery.GalleryAdmin`).

:class:`ServiceGallery` enrols uploaded document photos through the same :class:`~laneface.gallery.enrol.Enroller`
and policy as ``laneface gallery enroll`` (one usable face, the ``document`` profile's requirements not met
stored as quality flags or, strict, refused; duplicate check; failure to enrol recorded with its reason),
removes documents, and reports the gallery's size. A re-upload for an enrolled document goes through the
same policy as a new one: only the very photo already enrolled under the same policy changes nothing. The detector, the
embedder and the gallery are built on first use, so the service starts without loading a model, and one
lock serialises writers (the FastAPI endpoints run in a thread pool).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from laneface.api.gallery import GalleryInfo
from laneface.errors import EnrolmentRejectedError

if TYPE_CHECKING:
    from laneface.config import Settings
    from laneface.gallery.enrol import Enroller
    from laneface.models import ModelStore

__all__ = ["ServiceGallery", "enroller_from_settings"]

log = logging.getLogger(__name__)

UPLOAD = "upload"  # the image name recorded for photos that came through the service


def enroller_from_settings(
    settings: Settings,
    store: ModelStore,
    *,
    profile: str = "document",
    duplicate_fmr: float = 1e-5,
    strict: bool = False,
) -> Enroller:
    """The configured detector and embedder, the quality check of ``profile`` (its unmet requirements are
    quality flags, or with ``strict`` failures to enrol), the gallery of the embedder's model version under
    ``settings.data_dir`` and, where thresholds are calibrated for it, the duplicate check at
    ``duplicate_fmr``."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.gallery.enrol import Enroller, EnrolOptions
    from laneface.gallery.store import Gallery, gallery_config
    from laneface.gallery.thresholds import duplicate_threshold
    from laneface.imageio import ImageLimits
    from laneface.quality import QualityAssessor

    det = build_detector(settings.detection.detector, store, settings.detection)
    emb = build_embedder(settings.embedding.embedder, store, settings.embedding)
    threshold, why_not = duplicate_threshold(settings.data_dir, emb.model_version, duplicate_fmr)
    if threshold is None:
        log.warning("gallery enrolment without a duplicate check: %s", why_not)
    options = EnrolOptions(
        profile=profile,
        policy="strict" if strict else "flag",
        duplicate_threshold=threshold,
        drop_on_failure=False,
        image_limits=ImageLimits(max_bytes=settings.images.max_bytes, max_pixels=settings.images.max_pixels),
    )
    gallery = Gallery.open(settings.data_dir, emb.model_version, config=gallery_config(settings))
    return Enroller(gallery, det, emb, QualityAssessor.from_config(profile), options)


class ServiceGallery:
    """A :class:`~laneface.api.gallery.GalleryAdmin` over an :class:`Enroller` made by ``make_enroller`` on
    first use. Each write is flushed, so an accepted upload survives a restart. A rejected upload for an
    enrolled document keeps its template (the records side changes nothing either)."""

    def __init__(self, make_enroller: Callable[[], Enroller]) -> None:
        self._make = make_enroller
        self._enroller: Enroller | None = None
        self._lock = threading.Lock()

    def _get(self) -> Enroller:
        if self._enroller is None:
            self._enroller = self._make()
        return self._enroller

    def enroll(self, doc_id: str, image_bytes: bytes, doc_type: str, citizenship: str) -> tuple[str, ...]:
        """Enrol (or re-enrol) ``doc_id`` and return its quality flags (the requirements of the profile the
        enrolled photo does not meet); an upload identical to the photo enrolled under the same policy changes
        nothing (the stored flags). Raises :class:`EnrolmentRejectedError` (HTTP 422) with the reason of a
        failure to enrol."""
        with self._lock:
            enroller = self._get()
            outcome = enroller.enrol_bytes(
                doc_id, image_bytes, image=UPLOAD, doc_type=doc_type, citizenship=citizenship
            )
            enroller.gallery.flush()
        if outcome.status == "failed" or (outcome.status == "skipped" and outcome.reason.startswith("failed")):
            raise EnrolmentRejectedError(f"document {doc_id!r} not enrolled: {outcome.reason}")
        return outcome.quality_flags

    def remove(self, doc_id: str) -> bool:
        with self._lock:
            gallery = self._get().gallery
            removed = gallery.remove(doc_id)
            gallery.flush()
        return removed

    def info(self) -> GalleryInfo:
        with self._lock:
            gallery = self._get().gallery
            return GalleryInfo(
                backend=gallery.index_description, documents=len(gallery), model_version=gallery.model_version
            )

    def close(self) -> None:
        with self._lock:
            if self._enroller is not None:
                self._enroller.gallery.close()
                self._enroller = None

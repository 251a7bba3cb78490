"""Gallery: enrolment of document photos, vector indexes (exact numpy, FAISS, Milvus), metadata, thresholds.

Typical use (the lane pipeline)::

    gallery = Gallery.open(settings.data_dir, embedder.model_version)
    matcher = Matcher.for_gallery(gallery, settings.data_dir)        # laneface.matching
    matcher.verify(template, "P1234567"); matcher.one_to_n(template, k=10)

Importing this package loads neither faiss nor pymilvus: each backend imports its library when an index
is created.
"""

from __future__ import annotations

from laneface.errors import (
    CalibrationRangeError,
    DocumentNotFoundError,
    GalleryError,
    IndexStateError,
    ManifestError,
    ModelVersionMismatchError,
    UncalibratedModelError,
)
from laneface.gallery.enrol import Enroller, EnrolmentReport, EnrolOptions, RowOutcome
from laneface.gallery.exact import ExactIndex
from laneface.gallery.faiss_index import FaissConfig, FaissIndex
from laneface.gallery.index import SearchHits, VectorIndex
from laneface.gallery.manifest import ManifestRow, read_manifest
from laneface.gallery.metadata import DocumentRecord, DuplicateFlag, EnrolmentFailure
from laneface.gallery.milvus_index import MilvusIndex
from laneface.gallery.store import Candidate, Gallery, GalleryConfig, GalleryInfo, gallery_dir, list_galleries
from laneface.gallery.thresholds import ThresholdSet, ThresholdTable, load_thresholds

__all__ = [
    "CalibrationRangeError",
    "Candidate",
    "DocumentNotFoundError",
    "DocumentRecord",
    "DuplicateFlag",
    "EnrolOptions",
    "Enroller",
    "EnrolmentFailure",
    "EnrolmentReport",
    "ExactIndex",
    "FaissConfig",
    "FaissIndex",
    "Gallery",
    "GalleryConfig",
    "GalleryError",
    "GalleryInfo",
    "IndexStateError",
    "ManifestError",
    "ManifestRow",
    "MilvusIndex",
    "ModelVersionMismatchError",
    "RowOutcome",
    "SearchHits",
    "ThresholdSet",
    "ThresholdTable",
    "UncalibratedModelError",
    "VectorIndex",
    "gallery_dir",
    "list_galleries",
    "load_thresholds",
    "read_manifest",
]

"""Enrolment of document photos: manifest row -> image -> one face -> quality gate -> template -> gallery.

Per row, in this order (each outcome is recorded; nothing is dropped silently):

1. a row the manifest reader flagged (no doc_id, no image path, too many fields): **invalid**; with a
   doc_id that is not enrolled it is also stored as a failure to enrol (FTE); an enrolled doc_id keeps
   its template (a malformed line is no reason to drop a good one);
2. the image file is read and hashed (sha256). If the doc_id is already enrolled from the same bytes the
   row is **skipped** (this is what makes a rerun resume without duplicates); likewise a doc_id whose
   last attempt failed on the same bytes, unless ``retry_failures``;
3. FTE with its reason: file missing or unreadable, corrupt image, no face, more than one face with
   ``multiple_faces="fail"``, quality requirements of the profile not met. An FTE of an enrolled doc_id
   removes its old template: the manifest names a new photo for it, which could not be enrolled (with
   ``drop_on_failure=False``, the service's choice, the enrolled template stays and the failure is only
   reported);
4. more than one face with ``multiple_faces="largest"`` (the default): the largest face is used and the
   fact is noted (documents often carry a second, smaller "ghost" portrait of the same person);
5. the template is searched in the gallery before it is added: every other doc_id scoring at least the
   duplicate threshold is **flagged** (one person, two documents) in the metadata and the report;
6. the template is stored: **enrolled**, or **replaced** when the doc_id had a template (re-enrolment).

Each row commits on its own, so an interrupted job loses at most the row in flight.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.embedding.base import FaceEmbedder, embed_detections
from laneface.errors import FailureToEnrolError, InvalidImageError
from laneface.gallery.manifest import ManifestRow, count_rows, read_manifest
from laneface.gallery.metadata import DuplicateFlag
from laneface.gallery.store import Gallery
from laneface.imageio import ImageLimits, decode_image
from laneface.quality.base import QualityReport
from laneface.types import FaceDetections, Template

__all__ = ["EnrolOptions", "Enroller", "EnrolmentReport", "QualityGate", "RowOutcome", "largest_face"]

log = logging.getLogger(__name__)
Status = Literal["enrolled", "replaced", "skipped", "failed", "invalid"]


class QualityGate(Protocol):
    """What enrolment needs of a quality assessor (``laneface.quality.QualityAssessor`` is one)."""

    def assess(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[QualityReport]: ...


@dataclass(frozen=True)
class EnrolOptions:
    profile: str = "document"  # name recorded with failures ("none" when no gate)
    duplicate_threshold: float | None = None  # None: no duplicate check
    duplicate_k: int = 5
    multiple_faces: Literal["largest", "fail"] = "largest"
    retry_failures: bool = False
    # an FTE of an enrolled doc_id removes its template (a manifest names the document's new photo); False
    # keeps the enrolled template and reports the failure without recording it (a rejected service upload)
    drop_on_failure: bool = True
    image_limits: ImageLimits = field(default_factory=ImageLimits)


@dataclass(frozen=True)
class RowOutcome:
    line: int
    doc_id: str
    status: Status
    reason: str = ""
    note: str = ""
    duplicates: tuple[DuplicateFlag, ...] = ()


@dataclass(frozen=True)
class EnrolmentReport:
    """Counts per status and the rows worth reading (failures, invalid rows, duplicates, notes)."""

    manifest: str
    model_version: str
    profile: str
    rows: int
    enrolled: int
    replaced: int
    skipped: int
    failed: int
    invalid: int
    duplicates: int
    seconds: float
    details: tuple[RowOutcome, ...]


def largest_face(detections: FaceDetections) -> int:
    b = detections.boxes_xyxy
    return int(np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])))


class Enroller:
    """Enrols manifest rows into ``gallery`` with one detector, one embedder and an optional quality gate."""

    def __init__(
        self,
        gallery: Gallery,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        quality: QualityGate | None,
        options: EnrolOptions | None = None,
    ) -> None:
        self.gallery = gallery
        self.detector = detector
        self.embedder = embedder
        self.quality = quality
        self.options = options or EnrolOptions()

    # ------------------------------------------------------------------ one row
    def _read(self, row: ManifestRow) -> bytes:
        path = row.image_path
        limit = self.options.image_limits.max_bytes
        try:
            size = os.stat(path).st_size
            if not path.is_file():
                raise FailureToEnrolError(f"image {row.image!r} is not a regular file")
            if size > limit:
                raise FailureToEnrolError(f"image {row.image!r} is {size} bytes, over the limit of {limit}")
            data = path.read_bytes()
        except FileNotFoundError:
            raise FailureToEnrolError(f"image {row.image!r} not found") from None
        except OSError as exc:
            raise FailureToEnrolError(f"image {row.image!r} cannot be read: {exc.strerror or exc}") from None
        return data

    def _template(self, source: str, data: bytes) -> tuple[Template, float | None, str]:
        try:
            image = decode_image(data, limits=self.options.image_limits, source=source)
        except InvalidImageError as exc:
            raise FailureToEnrolError(f"unreadable image: {exc}") from None
        dets = self.detector.detect(image)
        if len(dets) == 0:
            raise FailureToEnrolError("no face")
        note = ""
        chosen = 0
        if len(dets) > 1:
            if self.options.multiple_faces == "fail":
                raise FailureToEnrolError(f"{len(dets)} faces, exactly one expected")
            chosen = largest_face(dets)
            note = f"{len(dets)} faces; the largest was used"
        face = dets[chosen]
        unified: float | None = None
        if self.quality is not None:
            report = self.quality.assess(image, face)[0]
            unified = report.unified
            if not report.passed:
                raise FailureToEnrolError(f"quality ({report.profile}): " + "; ".join(report.failed))
        batch = embed_detections(self.embedder, image, face)
        return batch[0], unified, note

    def enrol_row(self, row: ManifestRow) -> RowOutcome:
        profile = self.options.profile
        if row.problem is not None:  # recorded, but never at the expense of an enrolled template
            if row.doc_id and self.gallery.document(row.doc_id) is None:
                self.gallery.record_failure(
                    row.doc_id, image=row.image, image_sha256="", reason=row.problem, profile=profile
                )
            return RowOutcome(row.line, row.doc_id, "invalid", row.problem)
        try:
            data = self._read(row)
        except FailureToEnrolError as fte:
            self.gallery.record_failure(row.doc_id, image=row.image, image_sha256="", reason=str(fte), profile=profile)
            return RowOutcome(row.line, row.doc_id, "failed", str(fte))
        return self.enrol_bytes(
            row.doc_id,
            data,
            image=row.image,
            doc_type=row.doc_type,
            citizenship=row.citizenship,
            attributes=row.attributes,
            line=row.line,
        )

    def enrol_bytes(
        self,
        doc_id: str,
        data: bytes,
        *,
        image: str,
        doc_type: str = "",
        citizenship: str = "",
        attributes: Mapping[str, str] | None = None,
        line: int = 0,
    ) -> RowOutcome:
        """Steps 2-6 for the encoded photo ``data`` of ``doc_id`` (``image`` names it in records and errors):
        the enrolment of one upload (the service's admin endpoint) and of one manifest row."""
        profile = self.options.profile
        sha = hashlib.sha256(data).hexdigest()
        existing = self.gallery.document(doc_id)
        if existing is not None and existing.image_sha256 == sha:
            return RowOutcome(line, doc_id, "skipped", "already enrolled from the same image")
        failed = self.gallery.failure(doc_id) if existing is None else None
        if failed is not None and failed.image_sha256 == sha and not self.options.retry_failures:
            return RowOutcome(line, doc_id, "skipped", f"failed before on the same image: {failed.reason}")
        try:
            template, unified, note = self._template(image, data)
        except FailureToEnrolError as fte:
            if existing is not None and not self.options.drop_on_failure:
                return RowOutcome(line, doc_id, "failed", f"{fte!s} (the enrolled photo is kept)")
            self.gallery.record_failure(doc_id, image=image, image_sha256=sha, reason=str(fte), profile=profile)
            return RowOutcome(line, doc_id, "failed", str(fte))
        flags = self._duplicates(doc_id, template)
        self.gallery.enrol(
            doc_id,
            template,
            image=image,
            image_sha256=sha,
            doc_type=doc_type,
            citizenship=citizenship,
            attributes=attributes,
            quality_unified=unified,
            note=note,
            duplicate_flags=flags,
        )
        status: Status = "replaced" if existing is not None else "enrolled"
        return RowOutcome(line, doc_id, status, "", note, tuple(flags))

    def _duplicates(self, doc_id: str, template: Template) -> list[DuplicateFlag]:
        threshold = self.options.duplicate_threshold
        if threshold is None or len(self.gallery) == 0:
            return []
        flags = []
        for c in self.gallery.search(template, self.options.duplicate_k + 1):
            if c.doc_id != doc_id and c.score >= threshold:
                flags.append(DuplicateFlag(doc_id, c.doc_id, c.score, threshold))
        return flags

    # ------------------------------------------------------------------ a manifest
    def enrol_rows(
        self,
        rows: Iterable[ManifestRow],
        *,
        manifest: str = "",
        total: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        on_row: Callable[[RowOutcome], None] | None = None,
    ) -> EnrolmentReport:
        """Enrol ``rows`` one by one; ``progress(done, total)`` after each row."""
        started = time.perf_counter()
        counts: dict[Status, int] = {"enrolled": 0, "replaced": 0, "skipped": 0, "failed": 0, "invalid": 0}
        details: list[RowOutcome] = []
        n_dupes = 0
        try:
            for done, row in enumerate(rows, start=1):
                outcome = self.enrol_row(row)
                counts[outcome.status] += 1
                n_dupes += len(outcome.duplicates)
                if outcome.status in ("failed", "invalid") or outcome.duplicates or outcome.note:
                    details.append(outcome)
                if on_row is not None:
                    on_row(outcome)
                if progress is not None:
                    progress(done, total)
        finally:
            self.gallery.flush()
        return EnrolmentReport(
            manifest=manifest,
            model_version=self.gallery.model_version,
            profile=self.options.profile,
            rows=sum(counts.values()),
            enrolled=counts["enrolled"],
            replaced=counts["replaced"],
            skipped=counts["skipped"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            duplicates=n_dupes,
            seconds=time.perf_counter() - started,
            details=tuple(details),
        )

    def enrol_manifest(
        self, path: Path, *, progress: Callable[[int, int | None], None] | None = None
    ) -> EnrolmentReport:
        """Enrol every row of the manifest CSV at ``path`` (header checked before anything is written)."""
        total = count_rows(path)
        return self.enrol_rows(read_manifest(path), manifest=str(path), total=total, progress=progress)

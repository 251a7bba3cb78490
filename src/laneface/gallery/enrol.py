"""Enrolment of document photos: manifest row -> image -> one face -> quality check -> template -> gallery.

The policy (:attr:`EnrolOptions.policy`) says what the quality check of the profile does:

* ``"flag"`` (the default): a photo issued by an authority is enrolled when one usable face is found; each
  requirement of the profile it does not meet becomes a **quality flag** stored on the document, in the form
  of :meth:`laneface.quality.profiles.Requirement.check`: the requirement, then the measured value in
  parentheses (``"inter_eye_distance >= 90 (got 41.2)"``, ``"-5 <= yaw <= 5 (got 7.3)"``);
  :func:`laneface.gallery.metadata.flag_requirement` gives the part before the parentheses;
* ``"strict"``: a requirement not met is a failure to enrol (FTE) with the reason ``"quality (PROFILE): ..."``.

Under both, a failure to enrol is kept for an unusable image (missing, unreadable, corrupt, over the
limits), no face, and several faces of similar size none of which is clearly the central one (see
:func:`holder_face`: whose document it is cannot be told).

Per row, in this order (each outcome is recorded; nothing is dropped silently):

1. a row the manifest reader flagged (no doc_id, no image path, too many fields): **invalid**; with a
   doc_id that is not enrolled it is also stored as a failure to enrol (FTE); an enrolled doc_id keeps
   its template (a malformed line is no reason to drop a good one);
2. the image file is read and hashed (sha256). If the doc_id is already enrolled from the same bytes under
   the same policy and profile (:attr:`EnrolOptions.policy_key`) the row is **skipped** (this is what makes
   a rerun resume without duplicates); likewise a doc_id whose last attempt failed on the same bytes under
   the same policy, unless ``retry_failures``. Under another policy the photo is decided again (a changed
   policy is never hidden by an earlier decision);
3. FTE with its reason: file missing or unreadable, corrupt image, no face, several faces of similar size
   none clearly central,
   more than one face with ``multiple_faces="fail"``, with ``policy="strict"`` quality requirements of the
   profile not met. An FTE of an enrolled doc_id removes its old template: the manifest names a new photo
   for it (or the same photo under a stricter policy), which could not be enrolled (with
   ``drop_on_failure=False``, the service's choice, the enrolled template stays and the failure is only
   reported);
4. more than one face with ``multiple_faces="largest"`` (the default): the holder's face is used and the
   fact is noted: the largest when the others are clearly smaller (documents often carry a second,
   smaller "ghost" portrait of the same person), else the clearly most central of the faces of similar
   size (a portrait is centred on its subject; a bystander is off to a side);
5. the template is searched in the gallery before it is added: every other doc_id scoring at least the
   duplicate threshold is **flagged** (one person, two documents) in the metadata and the report;
6. the template is stored: **enrolled**, or **replaced** when the doc_id had a template (re-enrolment).

Each row commits on its own, so an interrupted job loses at most the row in flight.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import time
from collections import Counter
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
from laneface.gallery.metadata import DuplicateFlag, flag_requirement
from laneface.gallery.store import Gallery
from laneface.imageio import ImageLimits, decode_image
from laneface.quality.base import QualityReport
from laneface.types import FaceDetections, Template

__all__ = [
    "CENTRE_MARGIN",
    "SIMILAR_FACE_RATIO",
    "EnrolOptions",
    "Enroller",
    "EnrolmentReport",
    "Policy",
    "QualityGate",
    "RowOutcome",
    "commonest_flags",
    "commonest_reasons",
    "holder_face",
    "largest_face",
    "second_face_ratio",
]

log = logging.getLogger(__name__)
Status = Literal["enrolled", "replaced", "skipped", "failed", "invalid"]
FAILED_BEFORE = "failed before on the same image"  # a skipped row whose earlier decision was a failure to enrol
Policy = Literal["flag", "strict"]

# Face size (sqrt of box area) over the largest's from which a face competes for the holder's: a document's
# ghost portrait or a distant bystander is clearly smaller, a second person beside the holder is not.
SIMILAR_FACE_RATIO = 0.7
# Among faces of similar size, how much nearer the image centre (share of the image's larger side) the
# holder's face must be than every other: a portrait is centred, a row of people has no single centre.
CENTRE_MARGIN = 0.1


class QualityGate(Protocol):
    """What enrolment needs of a quality assessor (``laneface.quality.QualityAssessor`` is one)."""

    def assess(self, image_rgb: npt.NDArray[np.uint8], detections: FaceDetections) -> list[QualityReport]: ...


@dataclass(frozen=True)
class EnrolOptions:
    profile: str = "document"  # name recorded with failures and flags ("none" when no quality check)
    policy: Policy = "flag"  # what a requirement of the profile not met is: a quality flag, or an FTE
    similar_face_ratio: float = SIMILAR_FACE_RATIO
    centre_margin: float = CENTRE_MARGIN
    duplicate_threshold: float | None = None  # None: no duplicate check
    duplicate_k: int = 5
    multiple_faces: Literal["largest", "fail"] = "largest"
    retry_failures: bool = False
    # an FTE of an enrolled doc_id removes its template (a manifest names the document's new photo); False
    # keeps the enrolled template and reports the failure without recording it (a rejected service upload)
    drop_on_failure: bool = True
    image_limits: ImageLimits = field(default_factory=ImageLimits)

    @property
    def policy_key(self) -> str:
        """What decided a row, stored with it: ``"flag:document"``, ``"strict:document"``, ``"flag:none"``."""
        return f"{self.policy}:{self.profile}"


@dataclass(frozen=True)
class RowOutcome:
    line: int
    doc_id: str
    status: Status
    reason: str = ""
    note: str = ""
    duplicates: tuple[DuplicateFlag, ...] = ()
    quality_flags: tuple[str, ...] = ()  # requirements of the profile not met by an enrolled photo


@dataclass(frozen=True)
class EnrolmentReport:
    """Counts per status and the rows worth reading (failures, invalid rows, duplicates, notes)."""

    manifest: str
    model_version: str
    profile: str
    policy: Policy
    rows: int
    enrolled: int
    replaced: int
    skipped: int
    failed: int
    invalid: int
    duplicates: int
    seconds: float
    details: tuple[RowOutcome, ...]
    flagged: int = 0  # enrolled or replaced with at least one quality flag

    @property
    def attempted(self) -> int:
        """Rows decided in this run (not skipped as already done)."""
        return self.rows - self.skipped


def _areas(detections: FaceDetections) -> npt.NDArray[np.float32]:
    b = detections.boxes_xyxy
    areas: npt.NDArray[np.float32] = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return areas


def largest_face(detections: FaceDetections) -> int:
    return int(np.argmax(_areas(detections)))


def holder_face(
    detections: FaceDetections,
    width: int,
    height: int,
    similar_ratio: float = SIMILAR_FACE_RATIO,
    centre_margin: float = CENTRE_MARGIN,
) -> int | None:
    """Index of the document holder's face in a ``width`` x ``height`` photo: the largest face when every
    other is smaller than ``similar_ratio`` of its size; else, among the faces of similar size, the one
    nearest the image centre when it is nearer than each other by ``centre_margin`` of the image's larger
    side; None when that is not so (several people, none clearly the subject)."""
    if len(detections) == 0:
        return None
    sizes = np.sqrt(_areas(detections))
    comparable = np.flatnonzero(sizes >= min(similar_ratio, 1.0) * sizes.max())
    if comparable.size == 1:
        return int(comparable[0])
    b = detections.boxes_xyxy[comparable]
    centres = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    off = np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2) / max(width, height)
    order = np.argsort(off)
    if off[order[1]] - off[order[0]] < centre_margin:
        return None
    return int(comparable[order[0]])


def second_face_ratio(detections: FaceDetections) -> float:
    """Size (sqrt of box area) of the second-largest face over the largest's; 0 with fewer than two faces."""
    if len(detections) < 2:
        return 0.0
    second, first = np.sort(_areas(detections))[-2:]
    return math.sqrt(float(second) / float(first)) if first > 0 else 1.0


def _without_details(text: str) -> str:
    return re.sub(r" \([^()]*\)", "", text)


def _reason_keys(reason: str) -> list[str]:
    """A failure reason without what varies per photo (file names, counts, measured values in parentheses);
    a quality reason gives one key per requirement."""
    text = re.sub(r"'[^']*'", "'...'", reason)
    head, sep, tail = text.partition("): ")
    if text.startswith("quality (") and sep:
        return [f"{head}): {_without_details(part)}" for part in tail.split("; ")]
    return [re.sub(r"\b\d+ (bytes|faces)\b", r"N \1", _without_details(text))]


def commonest_reasons(outcomes: Iterable[RowOutcome], top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` commonest reasons of the failed and invalid ``outcomes`` with their counts."""
    counts = Counter(
        key
        for o in outcomes
        if o.status in ("failed", "invalid") or o.reason.startswith(FAILED_BEFORE)
        for key in dict.fromkeys(_reason_keys(o.reason.removeprefix(f"{FAILED_BEFORE}: ")))
    )
    return counts.most_common(top)


def commonest_flags(outcomes: Iterable[RowOutcome], top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` commonest quality flags (requirement only) of ``outcomes`` with their counts."""
    counts = Counter(req for o in outcomes for req in {flag_requirement(f) for f in o.quality_flags})
    return counts.most_common(top)


@dataclass(frozen=True)
class _Face:
    template: Template
    unified: float | None
    note: str
    flags: tuple[str, ...]


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

    def _template(self, source: str, data: bytes) -> _Face:
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
            o = self.options
            holder = holder_face(dets, image.shape[1], image.shape[0], o.similar_face_ratio, o.centre_margin)
            if holder is None:
                raise FailureToEnrolError(
                    f"{len(dets)} faces of similar size, none clearly central (the second largest is "
                    f"{second_face_ratio(dets):.2f} of the largest's size)"
                )
            chosen = holder
            which = "largest" if holder == largest_face(dets) else "most central of similar size"
            note = f"{len(dets)} faces; the {which} was used"
        face = dets[chosen]
        unified: float | None = None
        flags: tuple[str, ...] = ()
        if self.quality is not None:
            report = self.quality.assess(image, face)[0]
            unified = report.unified
            if not report.passed:
                if self.options.policy == "strict":
                    raise FailureToEnrolError(f"quality ({report.profile}): " + "; ".join(report.failed))
                flags = tuple(report.failed)
        batch = embed_detections(self.embedder, image, face)
        return _Face(batch[0], unified, note, flags)

    def enrol_row(self, row: ManifestRow) -> RowOutcome:
        profile, policy = self.options.profile, self.options.policy_key
        if row.problem is not None:  # recorded, but never at the expense of an enrolled template
            if row.doc_id and self.gallery.document(row.doc_id) is None:
                self.gallery.record_failure(
                    row.doc_id, image=row.image, image_sha256="", reason=row.problem, profile=profile, policy=policy
                )
            return RowOutcome(row.line, row.doc_id, "invalid", row.problem)
        try:
            data = self._read(row)
        except FailureToEnrolError as fte:
            self.gallery.record_failure(
                row.doc_id, image=row.image, image_sha256="", reason=str(fte), profile=profile, policy=policy
            )
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
        profile, policy = self.options.profile, self.options.policy_key
        sha = hashlib.sha256(data).hexdigest()
        existing = self.gallery.document(doc_id)
        same_photo = existing is not None and existing.image_sha256 == sha
        if existing is not None and same_photo and existing.policy == policy:
            return RowOutcome(
                line, doc_id, "skipped", "already enrolled from the same image", quality_flags=existing.quality_flags
            )
        failed = self.gallery.failure(doc_id) if existing is None else None
        if (
            failed is not None
            and failed.image_sha256 == sha
            and failed.policy == policy
            and not self.options.retry_failures
        ):
            return RowOutcome(line, doc_id, "skipped", f"{FAILED_BEFORE}: {failed.reason}")
        try:
            face = self._template(image, data)
        except FailureToEnrolError as fte:
            if existing is not None and not self.options.drop_on_failure:
                return RowOutcome(line, doc_id, "failed", f"{fte!s} (the enrolled photo is kept)")
            self.gallery.record_failure(
                doc_id, image=image, image_sha256=sha, reason=str(fte), profile=profile, policy=policy
            )
            return RowOutcome(line, doc_id, "failed", str(fte))
        template, unified, note = face.template, face.unified, face.note
        if existing is not None and same_photo:
            was = existing.policy or "an earlier policy"
            note = "; ".join(n for n in (note, f"the same photo decided again under {policy} (was {was})") if n)
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
            quality_flags=face.flags,
            policy=policy,
        )
        status: Status = "replaced" if existing is not None else "enrolled"
        return RowOutcome(line, doc_id, status, "", note, tuple(flags), face.flags)

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
        n_dupes = n_flagged = 0
        try:
            for done, row in enumerate(rows, start=1):
                outcome = self.enrol_row(row)
                counts[outcome.status] += 1
                n_dupes += len(outcome.duplicates)
                flagged = bool(outcome.quality_flags) and outcome.status in ("enrolled", "replaced")
                n_flagged += flagged
                if outcome.status in ("failed", "invalid") or outcome.duplicates or outcome.note or flagged:
                    details.append(outcome)
                elif outcome.status == "skipped" and outcome.reason.startswith(FAILED_BEFORE):
                    details.append(outcome)  # a rerun that enrols nothing must still say why
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
            policy=self.options.policy,
            rows=sum(counts.values()),
            enrolled=counts["enrolled"],
            replaced=counts["replaced"],
            skipped=counts["skipped"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            duplicates=n_dupes,
            seconds=time.perf_counter() - started,
            details=tuple(details),
            flagged=n_flagged,
        )

    def enrol_manifest(
        self, path: Path, *, progress: Callable[[int, int | None], None] | None = None
    ) -> EnrolmentReport:
        """Enrol every row of the manifest CSV at ``path`` (header checked before anything is written)."""
        total = count_rows(path)
        return self.enrol_rows(read_manifest(path), manifest=str(path), total=total, progress=progress)

"""One gallery, one ledger: a document the gallery enrols is recorded in the records (document, traveller,
citizenship, encrypted photo, quality flags), whichever path enrolled it (``laneface gallery enroll``,
``laneface demo``, the service's admin upload); a failure to enrol is audited; ``gallery sync-records``
backfills the records from a gallery enrolled before they were written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from laneface.errors import InputError, LanefaceError
from laneface.records.audit import Actor
from laneface.records.documents import EnrolledDocument, check_document_fields

if TYPE_CHECKING:
    from laneface.gallery.enrol import Enroller, EnrolmentReport, RowOutcome
    from laneface.gallery.manifest import ManifestRow
    from laneface.gallery.metadata import DocumentRecord
    from laneface.gallery.store import Gallery
    from laneface.records.service import RecordsService

__all__ = [
    "CLI_ACTOR",
    "RecordsWriteReport",
    "enrol_rows_with_records",
    "enrolled_document",
    "sync_records",
]

CLI_ACTOR = Actor("cli", "system")  # enrolments and backfills run from the command line
TRAVELLER_COLUMNS = ("traveller_ref", "traveller")  # optional manifest columns naming the traveller


@dataclass
class RecordsWriteReport:
    """What the records made of the gallery's outcomes. ``problems``: (doc_id, reason) of documents the gallery
    holds but the records could not take (e.g. a citizenship that is not a 3-letter code)."""

    recorded: int = 0
    photos_stored: int = 0
    failures_audited: int = 0
    removed: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)


def enrolled_document(record: DocumentRecord, photo: bytes | None) -> EnrolledDocument:
    """The records' value of a gallery document (traveller from a ``traveller_ref`` column, else the doc_id)."""
    traveller = next((record.attributes[c] for c in TRAVELLER_COLUMNS if record.attributes.get(c)), None)
    return EnrolledDocument(
        doc_id=record.doc_id,
        doc_type=record.doc_type.strip(),
        citizenship=record.citizenship.strip().upper(),
        traveller_ref=traveller,
        photo=photo,
        quality_flags=record.quality_flags,
        image_sha256=record.image_sha256,
    )


def _record(
    records: RecordsService,
    gallery: Gallery,
    doc_id: str,
    photo: bytes | None,
    *,
    actor: Actor,
    source: str,
    report: RecordsWriteReport,
) -> None:
    record = gallery.document(doc_id)
    if record is None:
        return
    doc = enrolled_document(record, photo)
    try:
        check_document_fields(doc.doc_id, doc.doc_type, doc.citizenship)
    except InputError as exc:
        records.record_enrolment_failure(doc_id, f"records: {exc}", actor=actor, source=source, error="InputError")
        report.problems.append((doc_id, str(exc)))
        return
    try:
        view = records.record_enrolment(doc, actor=actor, source=source)
    except LanefaceError as exc:  # audited by the records (outcome "failed"); reported, never dropped
        report.problems.append((doc_id, str(exc)))
        return
    report.recorded += 1
    report.photos_stored += int(view.has_photo)


def enrol_rows_with_records(
    enroller: Enroller,
    records: RecordsService,
    rows: Iterable[ManifestRow],
    *,
    actor: Actor = CLI_ACTOR,
    store_photos: bool = True,
    manifest: str = "",
    total: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[EnrolmentReport, RecordsWriteReport]:
    """Enrol ``rows`` into ``enroller.gallery`` and record each outcome in ``records``: an enrolled (or
    replaced, or already enrolled) document with its traveller and, when ``store_photos``, its photo
    (encrypted: ``records`` needs a cipher); a failure to enrol as an audit event with its reason (a failure
    that dropped an enrolled template marks the document no longer enrolled)."""
    report = RecordsWriteReport()
    current: list[ManifestRow] = []

    def remember(source: Iterable[ManifestRow]) -> Iterator[ManifestRow]:
        for row in source:
            current[:] = [row]
            yield row

    def on_row(outcome: RowOutcome) -> None:
        row = current[0]
        if outcome.status in ("enrolled", "replaced", "skipped") and enroller.gallery.document(outcome.doc_id):
            if outcome.status == "skipped" and not outcome.reason.startswith("already enrolled"):
                return
            photo = _read_photo(row.image_path) if store_photos else None
            _record(records, enroller.gallery, outcome.doc_id, photo, actor=actor, source="cli", report=report)
        elif outcome.status in ("failed", "invalid") and outcome.doc_id:
            still = enroller.gallery.document(outcome.doc_id) is not None
            records.record_enrolment_failure(
                outcome.doc_id, outcome.reason, actor=actor, source="cli", still_enrolled=still
            )
            report.failures_audited += 1

    result = enroller.enrol_rows(remember(rows), manifest=manifest, total=total, progress=progress, on_row=on_row)
    return result, report


def _read_photo(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def sync_records(
    gallery: Gallery,
    records: RecordsService,
    *,
    actor: Actor = CLI_ACTOR,
    manifest_rows: Iterable[ManifestRow] = (),
) -> RecordsWriteReport:
    """Record every document ``gallery`` holds (idempotent: rerunning changes nothing). A photo is stored for
    a document whose manifest row (``manifest_rows``) names the very image it was enrolled from (same sha256)."""
    images = {row.doc_id: row.image_path for row in manifest_rows if row.problem is None}
    report = RecordsWriteReport()
    for doc_id, _template in gallery.iter_templates():
        photo = None
        path = images.get(doc_id)
        record = gallery.document(doc_id)
        if path is not None and record is not None:
            data = _read_photo(path)
            if data is not None and hashlib.sha256(data).hexdigest() == record.image_sha256:
                photo = data
        _record(records, gallery, doc_id, photo, actor=actor, source="sync", report=report)
    return report

"""The records service: one object that owns the engine, the cipher and the clock, and runs each operation in
its own transaction. The HTTP routes and the CLI commands call it; neither touches tables directly."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from laneface.config import RetentionRule, Settings
from laneface.errors import (
    BiometricDataUnavailableError,
    DatabaseError,
    EncryptionError,
    InsecureConfigError,
    LanefaceError,
    RecordNotFoundError,
)
from laneface.records import migrate
from laneface.records.audit import SYSTEM, Actions, Actor, AuditFilter, list_events, record_event
from laneface.records.biometrics import read_biometric
from laneface.records.booth import booth_states, edit_booth_state, read_booth_state
from laneface.records.clock import Clock, system_clock
from laneface.records.crossings import add_review, get_crossing, list_crossings
from laneface.records.crypto import BlobCipher, load_or_create_dev_key, parse_key
from laneface.records.database import make_engine, make_session_factory, safe_url
from laneface.records.documents import (
    EnrolledDocument,
    drop_stale_photo,
    flags_json,
    read_document_photo,
    store_document_photo,
)
from laneface.records.domain import (
    CrossingFilter,
    CrossingView,
    DocumentView,
    PassageReceipt,
    PassageSubmission,
    ReviewView,
)
from laneface.records.ledger import DocumentHistory, TravellerStays, document_history, traveller_stays
from laneface.records.passages import check_jpeg, check_template, ingest_passage
from laneface.records.retention import PurgeReport, effective_rules, purge, replace_rules
from laneface.records.review_queue import QUEUED_DECISIONS, QueueDecision, ReviewQueuePage, review_queue
from laneface.records.rotation import RotationReport, rotate_blobs
from laneface.records.stats import GroupKey, StatsRow, compute_stats
from laneface.records.tables import AuditEvent, Document, DocumentPhoto
from laneface.records.travellers import mark_removed, set_opt_out, upsert_document
from laneface.records.trends import ReviewDay, RowCaptureDay, capture_by_row, review_days

__all__ = ["RecordsService", "build_cipher"]

log = logging.getLogger(__name__)


def build_cipher(settings: Settings, *, dev_key: bool = False) -> BlobCipher:
    """The cipher from ``privacy.encryption_key`` (+ previous keys). Without a key: refuse, or with
    ``dev_key`` use (and create, mode 0600) ``<data dir>/dev-encryption.key``."""
    privacy = settings.privacy
    previous = [
        parse_key(k.get_secret_value(), name="privacy.previous_encryption_keys")
        for k in privacy.previous_encryption_keys
    ]
    if privacy.encryption_key is not None:
        return BlobCipher(parse_key(privacy.encryption_key.get_secret_value()), previous)
    if not dev_key:
        raise InsecureConfigError(
            "privacy.encryption_key is not set (LANEFACE_PRIVACY__ENCRYPTION_KEY, base64 of 32 random bytes; "
            "`laneface keys generate` makes one); for development only, use --insecure-dev"
        )
    return BlobCipher(load_or_create_dev_key(settings.data_dir), previous)


class RecordsService:
    def __init__(
        self, settings: Settings, engine: Engine, cipher: BlobCipher | None, clock: Clock = system_clock
    ) -> None:
        """``cipher`` may be None for jobs that never encrypt or decrypt (purge, ledger, statistics)."""
        self.settings = settings
        self.engine = engine
        self._cipher = cipher
        self.clock = clock
        self.sessions: sessionmaker[Session] = make_session_factory(engine)
        # SQLite has one writer at a time: this process's writers queue on a lock instead of polling SQLite's
        # busy handler, whose growing sleeps (up to 100 ms a try) let late writers overtake waiting ones
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, settings: Settings, cipher: BlobCipher | None, clock: Clock = system_clock) -> RecordsService:
        return cls(settings, make_engine(settings.database_url), cipher, clock)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def cipher(self) -> BlobCipher:
        if self._cipher is None:
            raise InsecureConfigError("privacy.encryption_key is not set (LANEFACE_PRIVACY__ENCRYPTION_KEY)")
        return self._cipher

    # schema -------------------------------------------------------------------------------------------
    def prepare_schema(self) -> None:
        """Upgrade when ``records.auto_migrate``, else refuse an out-of-date schema."""
        try:
            if self.settings.records.auto_migrate:
                migrate.upgrade(self.engine)
            else:
                migrate.require_current(self.engine)
        except OperationalError:
            raise DatabaseError(f"cannot reach the records database {safe_url(self.settings.database_url)}") from None

    # lanes --------------------------------------------------------------------------------------------
    def validate_submission(self, submission: PassageSubmission) -> None:
        svc = self.settings.service
        for o in submission.occupants:
            source = f"occupant {o.occupant_id!r}"
            if o.image_jpeg is not None:
                check_jpeg(o.image_jpeg, max_bytes=svc.max_image_bytes, max_pixels=svc.max_image_pixels, source=source)
            if o.template is not None:
                check_template(o.template, source=source)

    def submit_passage(self, submission: PassageSubmission, actor: Actor) -> tuple[PassageReceipt, bool]:
        """Store a passage (idempotent). Returns (receipt, created)."""
        self.validate_submission(submission)
        try:
            return self._ingest(submission, actor)
        except IntegrityError:
            # a concurrent post with the same key won the race: a second attempt finds its row
            return self._ingest(submission, actor)

    def _ingest(self, submission: PassageSubmission, actor: Actor) -> tuple[PassageReceipt, bool]:
        with self._write_lock or contextlib.nullcontext(), self.sessions.begin() as session:
            return ingest_passage(
                session,
                self.cipher,
                submission,
                now=self.clock(),
                actor=actor,
                auto_confirm=self.settings.records.auto_confirm_matches,
            )

    # the booth view, shared by replicas ----------------------------------------------------------------
    def booth_state(self, lane: str) -> bytes | None:
        with self.sessions() as session:
            return read_booth_state(session, self.cipher, lane)

    def booth_states(self, limit: int = 256) -> list[bytes]:
        with self.sessions() as session:
            return booth_states(session, self.cipher, limit)

    def edit_booth_state(self, lane: str, edit: Callable[[bytes | None], tuple[bytes, int]]) -> None:
        """One lane's booth state changed in one transaction (:func:`laneface.records.booth.edit_booth_state`)."""
        for attempt in (1, 2):
            try:
                with self._write_lock or contextlib.nullcontext(), self.sessions.begin() as session:
                    edit_booth_state(session, self.cipher, lane, edit, self.clock())
                return
            except IntegrityError:  # another replica made the lane's row first: edit that one
                if attempt == 2:
                    raise

    # officers -----------------------------------------------------------------------------------------
    def crossings(self, flt: CrossingFilter) -> list[CrossingView]:
        with self.sessions() as session:
            return list_crossings(session, flt)

    def crossing(self, crossing_id: int) -> CrossingView:
        with self.sessions() as session:
            return get_crossing(session, crossing_id)

    def read_face_image(self, occupant_pk: int, actor: Actor, purpose: str = "adjudication") -> tuple[bytes, str]:
        """Decrypt an occupant's best shot; the read (or the attempt) is in the audit log before it returns."""
        with self.sessions() as session:
            try:
                result = read_biometric(
                    session,
                    self.cipher,
                    occupant_pk=occupant_pk,
                    kind="face_image",
                    actor=actor,
                    now=self.clock(),
                    purpose=purpose,
                )
            except (BiometricDataUnavailableError, EncryptionError):
                session.commit()  # the attempt stays in the audit log
                raise
            session.commit()
            return result

    def read_document_photo(self, doc_id: str, actor: Actor, purpose: str = "adjudication") -> tuple[bytes, str]:
        """Decrypt a document's enrolled photo; audited like :meth:`read_face_image`."""
        with self.sessions() as session:
            try:
                result = read_document_photo(
                    session, self.cipher, doc_id=doc_id, actor=actor, now=self.clock(), purpose=purpose
                )
            except (BiometricDataUnavailableError, EncryptionError, RecordNotFoundError):
                session.commit()  # the attempt stays in the audit log
                raise
            session.commit()
            return result

    def review(
        self, occupant_pk: int, *, decision: str, doc_id: str | None, note: str | None, actor: Actor
    ) -> ReviewView:
        with self.sessions.begin() as session:
            return add_review(
                session,
                occupant_pk=occupant_pk,
                decision=decision,
                doc_id=doc_id,
                note=note,
                actor=actor,
                now=self.clock(),
            )

    def document_history(self, doc_id: str) -> DocumentHistory:
        with self.sessions() as session:
            return document_history(session, doc_id)

    def traveller_stays(self, traveller_ref: str, at: datetime | None = None) -> TravellerStays:
        with self.sessions() as session:
            return traveller_stays(
                session,
                traveller_ref,
                now=at or self.clock(),
                records=self.settings.records,
                home_country=self.settings.privacy.home_country,
            )

    def stats(self, *, since: datetime, until: datetime, group_by: Sequence[GroupKey]) -> list[StatsRow]:
        with self.sessions() as session:
            return compute_stats(session, since=since, until=until, group_by=group_by)

    def review_queue(
        self,
        *,
        lane: str | None = None,
        decisions: Sequence[QueueDecision] = QUEUED_DECISIONS,
        limit: int = 50,
        offset: int = 0,
    ) -> ReviewQueuePage:
        with self.sessions() as session:
            return review_queue(session, lane=lane, decisions=decisions, limit=limit, offset=offset)

    def capture_by_row(self, *, since: datetime, until: datetime) -> list[RowCaptureDay]:
        with self.sessions() as session:
            return capture_by_row(session, since=since, until=until)

    def review_days(self, *, since: datetime, until: datetime) -> list[ReviewDay]:
        with self.sessions() as session:
            return review_days(session, since=since, until=until)

    def audit(
        self,
        actor: Actor,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        """One audit event for an act the records do not store otherwise (a booth thumbnail read, a prompt)."""
        with self.sessions() as session:
            record_event(
                session,
                at=self.clock(),
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=None if object_id is None else object_id[:128],
                details=details,
            )
            session.commit()

    # auditors -----------------------------------------------------------------------------------------
    def audit_events(self, flt: AuditFilter) -> list[AuditEvent]:
        with self.sessions() as session:
            return list_events(session, flt)

    # administrators -----------------------------------------------------------------------------------
    def enroll_document(
        self,
        *,
        doc_id: str,
        doc_type: str,
        citizenship: str,
        traveller_ref: str | None,
        opt_out: bool | None,
        actor: Actor,
        gallery_enroll: Callable[[], Sequence[str] | None] | None = None,
        photo: bytes | None = None,
        quality_flags: Sequence[str] = (),
        source: str = "api",
        image_sha256: str = "",
    ) -> DocumentView:
        """Record a document, its traveller and (encrypted) its ``photo``; then ``gallery_enroll`` runs, last
        inside the transaction: a document the records refuse (a conflict) never reaches the gallery, and a
        gallery failure rolls the records back (but for the audit event of the failure).
        ``gallery_enroll`` may return the enrolment's quality flags (else ``quality_flags`` are recorded).
        Without a ``photo`` a stored one stays only if it is the image the gallery enrolled (``image_sha256``)."""
        try:
            # the write (SQLite: the database's one writer) is held through the gallery's enrolment: queue
            # this process's other writers on the lock rather than on SQLite's busy handler
            with self._write_lock or contextlib.nullcontext(), self.sessions.begin() as session:
                view = upsert_document(
                    session,
                    doc_id=doc_id,
                    doc_type=doc_type,
                    citizenship=citizenship,
                    traveller_ref=traveller_ref,
                    opt_out=opt_out,
                    now=self.clock(),
                    quality_flags=quality_flags,
                )
                document = session.scalar(select(Document).where(Document.doc_id == doc_id))
                assert document is not None  # upsert_document just wrote it
                if view.biometric_opt_out:
                    drop_stale_photo(session, None, document, "")  # no photo is kept for a traveller who refuses
                elif photo is not None:
                    store_document_photo(session, self.cipher, document, photo, now=self.clock())
                    session.flush()
                else:
                    drop_stale_photo(session, self._cipher, document, image_sha256)
                view = replace(
                    view,
                    has_photo=session.scalar(select(DocumentPhoto.id).where(DocumentPhoto.document_id == document.id))
                    is not None,
                )
                if gallery_enroll is not None:
                    flags = gallery_enroll()
                    if flags:
                        document.quality_flags_json = flags_json(flags)
                        session.flush()
                        view = replace(view, quality_flags=tuple(flags))
                record_event(
                    session,
                    at=self.clock(),
                    actor=actor,
                    action=Actions.GALLERY_ENROLL,
                    object_type="document",
                    object_id=doc_id,
                    details={
                        "doc_type": doc_type,
                        "citizenship": citizenship,
                        "traveller_ref": view.traveller_ref,
                        "source": source,
                        "photo_stored": view.has_photo,
                        "quality_flags": list(view.quality_flags),
                    },
                )
                return view
        except LanefaceError as exc:
            self.record_enrolment_failure(doc_id, str(exc), actor=actor, source=source, error=type(exc).__name__)
            raise

    def record_enrolment(
        self, document: EnrolledDocument, *, actor: Actor, source: str = "cli", opt_out: bool | None = None
    ) -> DocumentView:
        """Record a document the gallery has enrolled (``laneface gallery enroll``, ``gallery sync-records``)."""
        return self.enroll_document(
            doc_id=document.doc_id,
            doc_type=document.doc_type,
            citizenship=document.citizenship,
            traveller_ref=document.traveller_ref,
            opt_out=opt_out,
            actor=actor,
            photo=document.photo,
            quality_flags=document.quality_flags,
            source=source,
            image_sha256=document.image_sha256,
        )

    def record_enrolment_failure(
        self,
        doc_id: str,
        reason: str,
        *,
        actor: Actor,
        source: str,
        error: str = "FailureToEnrolError",
        still_enrolled: bool = True,
    ) -> None:
        """Audit a failure to enrol (outcome ``failed``, with its reason). ``still_enrolled=False``: the gallery
        dropped the document's old template, so the records mark it no longer enrolled too."""
        with self._write_lock or contextlib.nullcontext(), self.sessions.begin() as session:
            if not still_enrolled:
                with contextlib.suppress(RecordNotFoundError):
                    mark_removed(session, doc_id)
            record_event(
                session,
                at=self.clock(),
                actor=actor,
                action=Actions.GALLERY_ENROLL,
                outcome="failed",
                object_type="document",
                object_id=doc_id[:128],
                details={"reason": reason, "error": error, "source": source, "still_enrolled": still_enrolled},
            )

    def remove_document(self, doc_id: str, *, actor: Actor, removed_from_gallery: bool) -> DocumentView | None:
        """Mark the document as no longer enrolled (its ledger history stays). None when the records do not
        know it either."""
        with self.sessions.begin() as session:
            try:
                view: DocumentView | None = mark_removed(session, doc_id)
            except RecordNotFoundError:
                if not removed_from_gallery:
                    raise
                view = None
            record_event(
                session,
                at=self.clock(),
                actor=actor,
                action=Actions.GALLERY_REMOVE,
                object_type="document",
                object_id=doc_id,
                details={"removed_from_gallery": removed_from_gallery},
            )
            return view

    def set_opt_out(self, traveller_ref: str, opt_out: bool, actor: Actor) -> int:
        with self.sessions.begin() as session:
            return set_opt_out(session, traveller_ref, opt_out, actor=actor, now=self.clock())

    def retention_rules(self) -> tuple[list[RetentionRule], str]:
        with self.sessions() as session:
            return effective_rules(session, self.settings.privacy.retention)

    def set_retention_rules(
        self, rules: Sequence[RetentionRule] | None, actor: Actor
    ) -> tuple[list[RetentionRule], str]:
        with self.sessions.begin() as session:
            replace_rules(session, rules, actor=actor, now=self.clock())
        return self.retention_rules()

    def purge(
        self,
        *,
        now: datetime | None = None,
        horizon: timedelta = timedelta(0),
        actor: Actor = SYSTEM,
        audit_when_empty: bool = True,
    ) -> PurgeReport:
        with self.sessions.begin() as session:
            rules, _ = effective_rules(session, self.settings.privacy.retention)
            report = purge(
                session,
                now=now or self.clock(),
                rules=rules,
                home_country=self.settings.privacy.home_country,
                actor=actor,
                horizon=horizon,
                audit_when_empty=audit_when_empty,
            )
        if report.total:
            log.info("purge deleted %d biometric records (%s)", report.total, report.expired)
        return report

    def rotate_key(self, new_cipher: BlobCipher, actor: Actor = SYSTEM) -> RotationReport:
        return rotate_blobs(self.sessions, new_cipher, actor=actor, now=self.clock())

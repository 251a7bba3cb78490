"""SQLAlchemy 2 tables of the records database. The schema itself is created by the Alembic migrations in
``laneface/records/migrations`` (a test checks that they produce exactly these tables).

Instants are stored in UTC (:class:`UTCDateTime`); biometric data (face images, templates) lives only in
``biometric_blobs`` (lane captures) and ``document_photos`` (enrolment photos), encrypted (AES-256-GCM, see
:mod:`laneface.records.crypto`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AuditEvent",
    "Base",
    "BiometricBlob",
    "BoothLane",
    "Crossing",
    "Document",
    "DocumentPhoto",
    "LedgerEntry",
    "Occupant",
    "Review",
    "StoredRetentionRule",
    "Traveller",
    "UTCDateTime",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC-aware datetimes out, on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Traveller(Base):
    __tablename__ = "travellers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    traveller_ref: Mapped[str] = mapped_column(String(64), unique=True)
    citizenship: Mapped[str] = mapped_column(String(3))
    biometric_opt_out: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    documents: Mapped[list[Document]] = relationship(back_populates="traveller")


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(64), unique=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    traveller_id: Mapped[int] = mapped_column(ForeignKey("travellers.id", ondelete="RESTRICT"), index=True)
    enrolled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # JSON list of the enrolment's quality flags (a photo below the document profile is enrolled, flagged)
    quality_flags_json: Mapped[str] = mapped_column(Text, default="[]")

    traveller: Mapped[Traveller] = relationship(back_populates="documents")
    photo: Mapped[DocumentPhoto | None] = relationship(back_populates="document", passive_deletes=True)


class DocumentPhoto(Base):
    """The enrolled document photo (for adjudication side by side with the lane's best shot), encrypted like
    :class:`BiometricBlob`."""

    __tablename__ = "document_photos"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    document: Mapped[Document] = relationship(back_populates="photo")


class Crossing(Base):
    """One vehicle passage through one lane (idempotency key: passage_id + lane)."""

    __tablename__ = "crossings"
    __table_args__ = (
        UniqueConstraint("passage_id", "lane", name="uq_crossings_passage_lane"),
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    passage_id: Mapped[str] = mapped_column(String(128))
    lane: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    occupant_count: Mapped[int] = mapped_column(Integer)
    complete_capture: Mapped[bool] = mapped_column()
    timing_json: Mapped[str | None] = mapped_column(Text)
    prompts_json: Mapped[str | None] = mapped_column(Text)  # the prompts given while it passed (booth)
    faces_not_counted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # printed faces left out
    plate_key: Mapped[str | None] = mapped_column(String(16), index=True)  # laneface.plates.plate_key
    plate_text: Mapped[str | None] = mapped_column(String(16))
    plate_region: Mapped[str | None] = mapped_column(String(8))
    plate_confidence: Mapped[float | None] = mapped_column(Float)
    body_sha256: Mapped[str] = mapped_column(String(64))

    occupants: Mapped[list[Occupant]] = relationship(
        back_populates="crossing", cascade="all, delete-orphan", order_by="Occupant.id"
    )


class Occupant(Base):
    __tablename__ = "occupants"
    __table_args__ = (
        UniqueConstraint("crossing_id", "occupant_id", name="uq_occupants_crossing_occupant"),
        CheckConstraint("decision IN ('match', 'no_match', 'not_captured')", name="decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crossing_id: Mapped[int] = mapped_column(ForeignKey("crossings.id", ondelete="CASCADE"), index=True)
    occupant_id: Mapped[str] = mapped_column(String(64))
    row: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Float)
    quality_passed: Mapped[bool] = mapped_column()
    decision: Mapped[str] = mapped_column(String(16), index=True)  # the review queue
    doc_id: Mapped[str | None] = mapped_column(String(64), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)  # the lane's threshold for that score
    model_version: Mapped[str] = mapped_column(String(128))
    withheld_reason: Mapped[str | None] = mapped_column(String(32))
    match_stage: Mapped[str | None] = mapped_column(String(16))  # the candidate list that decided
    list_size: Mapped[int | None] = mapped_column(Integer)

    crossing: Mapped[Crossing] = relationship(back_populates="occupants")
    blobs: Mapped[list[BiometricBlob]] = relationship(back_populates="occupant", passive_deletes=True)


class BiometricBlob(Base):
    """An encrypted face image or template of one occupant (nonce and tag inside ``ciphertext``)."""

    __tablename__ = "biometric_blobs"
    __table_args__ = (
        UniqueConstraint("occupant_pk", "kind", name="uq_biometric_blobs_occupant_kind"),
        CheckConstraint("kind IN ('face_image', 'template')", name="kind"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    occupant_pk: Mapped[int] = mapped_column(ForeignKey("occupants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    occupant: Mapped[Occupant] = relationship(back_populates="blobs")


class Review(Base):
    """An officer's adjudication of one occupant."""

    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("decision IN ('confirmed', 'rejected', 'referred')", name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occupant_pk: Mapped[int] = mapped_column(ForeignKey("occupants.id", ondelete="CASCADE"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    doc_id: Mapped[str | None] = mapped_column(String(64))
    officer: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # reviews per day


class LedgerEntry(Base):
    """A confirmed arrival or departure of one traveller (at most one per occupant)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("movement IN ('arrival', 'departure')", name="movement"),
        CheckConstraint("source IN ('automatic', 'officer')", name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    traveller_id: Mapped[int] = mapped_column(ForeignKey("travellers.id", ondelete="RESTRICT"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="RESTRICT"), index=True)
    occupant_pk: Mapped[int] = mapped_column(ForeignKey("occupants.id", ondelete="CASCADE"), unique=True)
    movement: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(10))

    traveller: Mapped[Traveller] = relationship()
    document: Mapped[Document] = relationship()
    occupant: Mapped[Occupant] = relationship()


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    details_json: Mapped[str] = mapped_column(Text)


class StoredRetentionRule(Base):
    """Retention rules set by an administrator; when the table is empty the configured rules apply."""

    __tablename__ = "retention_rules"
    __table_args__ = (UniqueConstraint("kind", "citizenship", name="uq_retention_rules_kind_citizenship"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    citizenship: Mapped[str] = mapped_column(String(8))
    max_age_hours: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(128))


class BoothLane(Base):
    """The live booth view of one lane (what its pipeline reported of the vehicle passing now, the officer prompts
    waiting for it), kept here when the service runs as several replicas. Opaque to the records: the booth
    hub's state as JSON, encrypted like every biometric blob (it holds face thumbnails and doc_ids)."""

    __tablename__ = "booth_lanes"

    lane: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[bytes] = mapped_column(LargeBinary)

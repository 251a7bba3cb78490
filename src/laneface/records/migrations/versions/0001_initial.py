"""Initial records schema: travellers, documents, crossings, occupants, biometric blobs, reviews, ledger,
audit events, retention rules.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from laneface.records.tables import UTCDateTime

revision = "0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, column: str, *, unique: bool = False) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=unique)


def upgrade() -> None:
    op.create_table(
        "travellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("traveller_ref", sa.String(64), nullable=False),
        sa.Column("citizenship", sa.String(3), nullable=False),
        sa.Column("biometric_opt_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _pk("travellers"),
        sa.UniqueConstraint("traveller_ref", name=op.f("uq_travellers_traveller_ref")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_id", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(32), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _pk("documents"),
        _fk("documents", "traveller_id", "travellers", "RESTRICT"),
        sa.UniqueConstraint("doc_id", name=op.f("uq_documents_doc_id")),
    )
    _index("documents", "traveller_id")
    op.create_table(
        "crossings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.String(128), nullable=False),
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("occupant_count", sa.Integer(), nullable=False),
        sa.Column("complete_capture", sa.Boolean(), nullable=False),
        sa.Column("timing_json", sa.Text(), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        _pk("crossings"),
        sa.UniqueConstraint("passage_id", "lane", name="uq_crossings_passage_lane"),
        sa.CheckConstraint("direction IN ('inbound', 'outbound')", name=op.f("ck_crossings_direction")),
    )
    _index("crossings", "started_at")
    op.create_table(
        "occupants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.Integer(), nullable=False),
        sa.Column("occupant_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("quality_passed", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("doc_id", sa.String(64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("withheld_reason", sa.String(32), nullable=True),
        _pk("occupants"),
        _fk("occupants", "crossing_id", "crossings", "CASCADE"),
        sa.UniqueConstraint("crossing_id", "occupant_id", name="uq_occupants_crossing_occupant"),
        sa.CheckConstraint("decision IN ('match', 'no_match', 'not_captured')", name=op.f("ck_occupants_decision")),
    )
    _index("occupants", "crossing_id")
    _index("occupants", "doc_id")
    op.create_table(
        "biometric_blobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("occupant_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _pk("biometric_blobs"),
        _fk("biometric_blobs", "occupant_pk", "occupants", "CASCADE"),
        sa.UniqueConstraint("occupant_pk", "kind", name="uq_biometric_blobs_occupant_kind"),
        sa.CheckConstraint("kind IN ('face_image', 'template')", name=op.f("ck_biometric_blobs_kind")),
    )
    _index("biometric_blobs", "occupant_pk")
    _index("biometric_blobs", "created_at")
    _index("biometric_blobs", "key_id")
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occupant_pk", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("doc_id", sa.String(64), nullable=True),
        sa.Column("officer", sa.String(128), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        _pk("reviews"),
        _fk("reviews", "occupant_pk", "occupants", "CASCADE"),
        sa.CheckConstraint("decision IN ('confirmed', 'rejected', 'referred')", name=op.f("ck_reviews_decision")),
    )
    _index("reviews", "occupant_pk")
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("traveller_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("occupant_pk", sa.Integer(), nullable=False),
        sa.Column("movement", sa.String(10), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        _pk("ledger_entries"),
        _fk("ledger_entries", "traveller_id", "travellers", "RESTRICT"),
        _fk("ledger_entries", "document_id", "documents", "RESTRICT"),
        _fk("ledger_entries", "occupant_pk", "occupants", "CASCADE"),
        sa.UniqueConstraint("occupant_pk", name=op.f("uq_ledger_entries_occupant_pk")),
        sa.CheckConstraint("movement IN ('arrival', 'departure')", name=op.f("ck_ledger_entries_movement")),
        sa.CheckConstraint("source IN ('automatic', 'officer')", name=op.f("ck_ledger_entries_source")),
    )
    _index("ledger_entries", "traveller_id")
    _index("ledger_entries", "document_id")
    _index("ledger_entries", "at")
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=True),
        sa.Column("object_id", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        _pk("audit_events"),
    )
    _index("audit_events", "at")
    _index("audit_events", "action")
    op.create_table(
        "retention_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("citizenship", sa.String(8), nullable=False),
        sa.Column("max_age_hours", sa.Float(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        _pk("retention_rules"),
        sa.UniqueConstraint("kind", "citizenship", name="uq_retention_rules_kind_citizenship"),
    )


def downgrade() -> None:
    for table in (
        "retention_rules",
        "audit_events",
        "ledger_entries",
        "reviews",
        "biometric_blobs",
        "occupants",
        "crossings",
        "documents",
        "travellers",
    ):
        op.drop_table(table)

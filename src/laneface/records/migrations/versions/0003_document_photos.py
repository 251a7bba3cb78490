"""One gallery, one ledger: the enrolled document photo (encrypted, for adjudication), a document's quality
flags, and the threshold the lane compared an occupant's score with.

Revision ID: 0003_document_photos
Revises: 0002_review_indexes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from laneface.records.tables import UTCDateTime

revision = "0003_document_photos"
down_revision: str | None = "0002_review_indexes"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "document_photos",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_photos_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_photos")),
        sa.UniqueConstraint("document_id", name=op.f("uq_document_photos_document_id")),
    )
    op.create_index(op.f("ix_document_photos_key_id"), "document_photos", ["key_id"], unique=False)
    with op.batch_alter_table("documents") as batch:
        # existing documents have no flags: the server default fills them, then goes (the model sets it)
        batch.add_column(sa.Column("quality_flags_json", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("quality_flags_json", server_default=None)
    with op.batch_alter_table("occupants") as batch:
        batch.add_column(sa.Column("threshold", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occupants") as batch:
        batch.drop_column("threshold")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("quality_flags_json")
    op.drop_index(op.f("ix_document_photos_key_id"), table_name="document_photos")
    op.drop_table("document_photos")

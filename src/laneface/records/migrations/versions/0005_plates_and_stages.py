"""The plate read in the lane (looked up by its key: people seen in the same vehicle before) and, per occupant,
the candidate list that decided its match and that list's size.

Revision ID: 0005_plates_and_stages
Revises: 0004_passage_prompts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_plates_and_stages"
down_revision: str | None = "0004_passage_prompts"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.add_column(sa.Column("plate_key", sa.String(16), nullable=True))
        batch.add_column(sa.Column("plate_text", sa.String(16), nullable=True))
        batch.add_column(sa.Column("plate_region", sa.String(8), nullable=True))
        batch.add_column(sa.Column("plate_confidence", sa.Float(), nullable=True))
        batch.create_index(op.f("ix_crossings_plate_key"), ["plate_key"], unique=False)
    with op.batch_alter_table("occupants") as batch:
        batch.add_column(sa.Column("match_stage", sa.String(16), nullable=True))
        batch.add_column(sa.Column("list_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occupants") as batch:
        batch.drop_column("list_size")
        batch.drop_column("match_stage")
    with op.batch_alter_table("crossings") as batch:
        batch.drop_index(op.f("ix_crossings_plate_key"))
        batch.drop_column("plate_confidence")
        batch.drop_column("plate_region")
        batch.drop_column("plate_text")
        batch.drop_column("plate_key")

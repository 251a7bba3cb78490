"""The booth view of each lane, shared by the service's replicas (encrypted state, one row per lane).

Revision ID: 0006_booth_lanes
Revises: 0005_plates_and_stages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from laneface.records.tables import UTCDateTime

revision = "0006_booth_lanes"
down_revision: str | None = "0005_plates_and_stages"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "booth_lanes",
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_booth_lanes")),
    )
    op.create_index(op.f("ix_booth_lanes_updated_at"), "booth_lanes", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_booth_lanes_updated_at"), table_name="booth_lanes")
    op.drop_table("booth_lanes")

"""The faces a lane left out as printed (shirts, photos, screens), kept with the crossing.

Revision ID: 0007_faces_not_counted
Revises: 0006_booth_lanes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_faces_not_counted"
down_revision: str | None = "0006_booth_lanes"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.add_column(sa.Column("faces_not_counted", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.drop_column("faces_not_counted")

"""The prompts given to a vehicle's occupants while it passed (the booth: automatic or an officer's).

Revision ID: 0004_passage_prompts
Revises: 0003_document_photos
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_passage_prompts"
down_revision: str | None = "0003_document_photos"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.add_column(sa.Column("prompts_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crossings") as batch:
        batch.drop_column("prompts_json")

"""Indexes for the officer dashboard: occupants by lane decision (the review queue) and reviews by the time
they were decided (reviews and false-match reviews per day).

Revision ID: 0002_review_indexes
Revises: 0001_initial
"""

from __future__ import annotations

from alembic import op

revision = "0002_review_indexes"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXES = (("occupants", "decision"), ("reviews", "decided_at"))


def upgrade() -> None:
    for table, column in _INDEXES:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(_INDEXES):
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)

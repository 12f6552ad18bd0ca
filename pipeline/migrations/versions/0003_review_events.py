"""Case work: ``review_events`` (every claim, release and verdict, appended) and ``claims`` (who
works on a queue row now).

Verdicts recorded before this revision become one event each (action ``verdict``, from-status
unknown: null), so that the history starts complete.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_events",
        sa.Column("event_id", sa.Integer, primary_key=True, nullable=False),
        sa.Column("account_id", sa.Text, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("changed_by", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.CheckConstraint("action IN ('claim', 'release', 'verdict')", name="review_events_action"),
        sa.CheckConstraint(
            "to_status IN ('open', 'confirmed_abuse', 'cleared', 'escalated')", name="review_events_status"
        ),
    )
    op.create_index("review_events_row", "review_events", ["account_id", "as_of"])
    op.create_table(
        "claims",
        sa.Column("account_id", sa.Text, primary_key=True, nullable=False),
        sa.Column("as_of", sa.Date, primary_key=True, nullable=False),
        sa.Column("claimed_by", sa.Text, nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        sa.text(
            "INSERT INTO review_events (account_id, as_of, action, from_status, to_status, changed_by, changed_at, note) "
            "SELECT account_id, as_of, 'verdict', NULL, status, reviewed_by, reviewed_at, note FROM review_queue "
            "WHERE status <> 'open' AND reviewed_by IS NOT NULL AND reviewed_at IS NOT NULL "
            "ORDER BY reviewed_at, as_of, account_id"
        )
    )
    op.execute(sa.text("UPDATE review_schema SET version = 3"))

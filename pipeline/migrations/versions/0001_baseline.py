"""Baseline: the review table and its schema marker, as buyer-abuse created them before Alembic
(``review_schema.version`` 1). A database made by that code is stamped at this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_queue",
        sa.Column("account_id", sa.Text, primary_key=True, nullable=False),
        sa.Column("as_of", sa.Date, primary_key=True, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("ring_id", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("reviewed_by", sa.Text, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.CheckConstraint("score >= 0 AND score <= 1", name="review_queue_score_range"),
        sa.CheckConstraint("rank >= 1", name="review_queue_rank_positive"),
        sa.CheckConstraint("status IN ('open', 'confirmed_abuse', 'cleared', 'escalated')", name="review_queue_status"),
    )
    schema = op.create_table("review_schema", sa.Column("version", sa.Integer, primary_key=True, autoincrement=False))
    op.bulk_insert(schema, [{"version": 1}])

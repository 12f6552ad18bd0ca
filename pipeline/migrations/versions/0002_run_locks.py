"""Run locks: one nightly run per scoring date per review database (``review_db.run_lock``).

A row names the run holding a date (owner, host, process id), when it took it and until when:
the holder renews the expiry while it runs, and a later run takes over a row whose expiry has
passed or whose process is gone from the same host.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_locks",
        sa.Column("as_of", sa.Date, primary_key=True, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(sa.text("UPDATE review_schema SET version = 2"))

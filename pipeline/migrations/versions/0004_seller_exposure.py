"""Seller exposure: the seller side of abusive cancellations, one row per seller per scoring date
(``review_db.write_seller_exposure``, written by the nightly run beside the review queue).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The columns as contract.outputs.SELLER_EXPOSURE declared them at this revision (a migration is
# a record of the past: it does not follow later extensions of the contract).
_COUNTS = (
    "orders",
    "cancellations",
    "cancelled_by_buyer",
    "cancelled_by_seller",
    "cancelled_by_logistics",
    "cancelled_by_payment",
    "cancelled_by_platform",
    "cancelled_before_payment",
    "cancelled_after_payment",
    "cancelled_after_shipment",
    "abuse_cancels",
    "abuse_cancels_confirmed",
    "abuse_cancels_queued",
    "abuse_cancels_above_cut",
)
_RATES = ("cancel_rate", "cancel_rate_low", "cancel_rate_high")
_CORRECTED = ("corrected_cancel_rate", "corrected_rate_low", "corrected_rate_high")
_CONCENTRATION = ("suspect_buyers", "suspect_rings", "flash_units", "flash_units_abused")


def upgrade() -> None:
    op.create_table(
        "seller_exposure",
        sa.Column("seller_id", sa.Text, primary_key=True, nullable=False),
        sa.Column("as_of", sa.Date, primary_key=True, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in _COUNTS),
        *(sa.Column(name, sa.Float, nullable=False) for name in _RATES),
        *(sa.Column(name, sa.Float, nullable=True) for name in _CORRECTED),
        *(sa.Column(name, sa.Integer, nullable=False) for name in _CONCENTRATION),
        sa.Column("flash_abused_share", sa.Float, nullable=True),
        sa.Column("target_score", sa.Float, nullable=False),
        sa.Column("target_rank", sa.Integer, nullable=True),
        sa.Column("reasons", sa.Text, nullable=False),
    )
    op.execute(sa.text("UPDATE review_schema SET version = 4"))

"""Labels as of an instant: which decision is in force, and who is a confirmed abuser.

An account may have several label rows (a review, a chargeback, a correction). The one in
force at t is the latest decided before t; on a tie of times, `legit` wins over `abuse` (the
sort puts it last), so a simultaneous correction clears. This is the one definition the
features (known abusers on a device, in a ring), the training set and the queue rule use.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from contract.tables import TABLES
from contract.values import Label


def labels_in_force(labels: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """account_id, label, decided_at: each account's latest decision before t."""
    return (
        labels.filter(pl.col(TABLES["labels"].event_time) < t)
        .sort("decided_at", "label")
        .group_by("account_id")
        .agg(pl.col("label").last(), pl.col("decided_at").last())
    )


def is_confirmed_abuser() -> pl.Expr:
    """True for a row of `labels_in_force` whose decision in force is abuse."""
    return pl.col("label") == Label.ABUSE.value


def confirmed_abusers(labels: pl.DataFrame | None, t: datetime) -> list[str]:
    """Accounts whose decision in force at t is abuse (none without labels)."""
    if labels is None:
        return []
    return labels_in_force(labels, t).filter(is_confirmed_abuser())["account_id"].sort().to_list()

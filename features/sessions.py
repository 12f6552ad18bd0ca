"""Logins per account: how often the account was seen, over every window.

Input: the sessions of a set of accounts as known at ``t``. Output: one row per account_id with
at least one session. Without a sessions table the columns are null (``features.sources``).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from features.columns import Feature, Unit, Windowed, needing
from features.time import WINDOWS, Frame, windowed_sums

SESSION_SUMS = [Windowed("sessions", "sessions", Unit.SESSIONS, "sessions started", pl.col("started_at").is_not_null())]


def sessions_columns() -> list[Feature]:
    return needing([f for s in SESSION_SUMS for f in s.features(WINDOWS)], "sessions")


def sessions(rows: Frame, t: datetime) -> pl.DataFrame:
    """Session counts for every account with at least one session known at t."""
    return windowed_sums(rows, "started_at", t, SESSION_SUMS)

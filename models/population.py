"""The scored population: the accounts the nightly run scores and could queue.

An account is *active* at the features' instant when it had an order, a payment attempt or a
session in the lookback window before it: each is something the account did on the
marketplace, so each can be abuse in progress (an account whose only activity is failed
payments, or logins that test stolen credentials, is scored too). The same rule draws the
training examples, so training sees the population scoring ranks.
"""

from __future__ import annotations

import polars as pl

LOOKBACK = "90d"  # a window of features.time.WINDOWS


ACTIVITY = ("orders", "payment_attempts", "sessions")  # windowed counts of features.history/payments/sessions


def is_active() -> pl.Expr:
    """True for a feature row with an order, a payment attempt or a session in the lookback
    window (a count that is unknown, its source missing, counts as none)."""
    return pl.any_horizontal((pl.col(f"{what}_{LOOKBACK}") > 0).fill_null(False) for what in ACTIVITY)

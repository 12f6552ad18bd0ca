"""The scored population: the accounts the nightly run scores and could queue.

An account is *active* at the features' instant when it had an order or a payment attempt in
the lookback window before it. The same rule draws the training set's presumed-legit sample,
so training sees the population scoring ranks.
"""

from __future__ import annotations

import polars as pl

LOOKBACK = "90d"  # a window of features.time.WINDOWS


def is_active() -> pl.Expr:
    """True for a feature row with an order or a payment attempt in the lookback window."""
    return (pl.col(f"orders_{LOOKBACK}") > 0) | (pl.col(f"payment_attempts_{LOOKBACK}") > 0)

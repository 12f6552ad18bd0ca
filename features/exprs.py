"""Small expressions every family uses: smoothed rates and null-safe comparisons."""

from __future__ import annotations

import polars as pl

# How rates over few orders stay sensible: each rate is pulled towards a prior as if
# STRENGTH more orders had been seen at the prior rate.
STRENGTH = 4.0


def smoothed_rate(events: pl.Expr, trials: pl.Expr, prior: float, strength: float = STRENGTH) -> pl.Expr:
    """(events + strength * prior) / (trials + strength): a rate that does not jump to 0 or 1
    on one order, and equals the prior for an account with none."""
    return (events + strength * prior) / (trials + strength)


def equals(column: str, value: str) -> pl.Expr:
    """True where `column` is `value`; False where it is another value or missing."""
    return (pl.col(column) == value).fill_null(False)


def before(earlier: str, later: str) -> pl.Expr:
    """True where `earlier` was reached at or before `later`; False where either is missing
    (a missing timestamp compares as null, so "paid before the cancel" must be spelled so)."""
    return (pl.col(earlier) <= pl.col(later)).fill_null(False)

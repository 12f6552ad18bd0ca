"""Payment attempts per account: failures, instruments tried, decline codes.

Input: the payment attempts of a set of accounts as known at ``t``. Output: one row per
account_id with at least one attempt.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from features.columns import Feature, Unit, Windowed, WindowedRate, needing
from features.exprs import equals
from features.time import WINDOWS, Frame, in_window, windowed_sums

DECLINE_CODES = ("insufficient_funds", "card_declined", "risk_declined", "timeout")
FAILED_PRIOR = 0.05


PAYMENT_SUMS = [
    Windowed("payment_attempts", "payments", Unit.ATTEMPTS, "payment attempts", pl.col("attempted_at").is_not_null()),
    Windowed("failed_payment_attempts", "payments", Unit.ATTEMPTS, "failed payment attempts", ~pl.col("succeeded")),
]
PAYMENT_RATES = [
    WindowedRate(
        "failed_payment_rate",
        "payments",
        "failed share of attempts",
        "failed_payment_attempts",
        "payment_attempts",
        FAILED_PRIOR,
    )
]


def payments_columns() -> list[Feature]:
    """Declarations of every per-account payment column, in table order."""
    declared = [
        *[f for s in PAYMENT_SUMS for f in s.features(WINDOWS)],
        *[f for r in PAYMENT_RATES for f in r.features(WINDOWS)],
        *_instruments_tried(),
        *_row_features(),
        _instruments_never_succeeded(),
        *_per_order_columns(),
    ]
    return needing(declared, "attempts")


def _row_features() -> list[Feature]:
    """Columns aggregated from the attempts themselves (not windowed sums)."""
    failed, code = ~pl.col("succeeded"), pl.col("failure_code")
    return [
        *[
            Feature(
                f"declines_{c}_lifetime",
                "payments",
                "lifetime",
                Unit.ATTEMPTS,
                f"attempts failed with code {c}",
                equals("failure_code", c).sum(),
            )
            for c in DECLINE_CODES
        ],
        Feature(
            "declines_other_lifetime",
            "payments",
            "lifetime",
            Unit.ATTEMPTS,
            "attempts failed with any other code",
            (failed & ~code.is_in(DECLINE_CODES).fill_null(False)).sum(),
        ),
    ]


# The instrument columns aggregate one row per (account, instrument): its last attempt and
# whether any attempt with it succeeded (one grouping instead of a distinct count per window).
def _instruments_tried() -> list[Feature]:
    return [
        Feature(
            f"instruments_tried_{w}",
            "payments",
            w,
            Unit.INSTRUMENTS,
            "distinct instruments tried",
            lambda t, w=w: in_window("last_attempt", t, w).sum(),
        )
        for w in ("7d", "30d", "lifetime")
    ]


def _instruments_never_succeeded() -> Feature:
    return Feature(
        "instruments_never_succeeded_lifetime",
        "payments",
        "lifetime",
        Unit.INSTRUMENTS,
        "instruments tried that never had a successful attempt",
        (~pl.col("ever_succeeded")).sum(),
    )


def _per_order_columns() -> list[Feature]:
    return [
        Feature(
            "max_attempts_one_order_lifetime",
            "payments",
            "lifetime",
            Unit.ATTEMPTS,
            "most payment attempts on one order",
        ),
        Feature(
            "max_instruments_one_order_lifetime",
            "payments",
            "lifetime",
            Unit.INSTRUMENTS,
            "most instruments tried on one order",
        ),
        Feature(
            "orders_with_failed_payment_lifetime",
            "payments",
            "lifetime",
            Unit.ORDERS,
            "orders with at least one failed attempt",
        ),
    ]


def payments(attempts: Frame, t: datetime) -> pl.DataFrame:
    """All payment columns for every account with at least one attempt known at t."""
    sums = (
        windowed_sums(attempts, "attempted_at", t, PAYMENT_SUMS)
        .lazy()
        .with_columns(f.at(t) for r in PAYMENT_RATES for f in r.features(WINDOWS))
    )
    instruments = (
        attempts.lazy()
        .group_by("account_id", "instrument_id")
        .agg(last_attempt=pl.col("attempted_at").max(), ever_succeeded=pl.col("succeeded").any())
        .group_by("account_id")
        .agg(f.at(t) for f in (*_instruments_tried(), _instruments_never_succeeded()))
    )
    per_account = sums.join(
        attempts.lazy().group_by("account_id").agg(f.at(t) for f in _row_features()), on="account_id"
    ).join(instruments, on="account_id")
    # Most orders have one attempt. Grouping every attempt by order would hash millions of
    # order ids, so only orders seen more than once (and failed attempts) are grouped.
    repeated = attempts.lazy().filter(pl.col("order_id").is_duplicated())
    multi = (
        repeated.group_by("account_id", "order_id")
        .agg(n=pl.len(), instruments=pl.col("instrument_id").n_unique())
        .group_by("account_id")
        .agg(
            max_attempts_one_order_lifetime=pl.col("n").max(),
            max_instruments_one_order_lifetime=pl.col("instruments").max(),
        )
    )
    failed = (
        attempts.lazy()
        .filter(~pl.col("succeeded"))
        .group_by("account_id")
        .agg(orders_with_failed_payment_lifetime=pl.col("order_id").n_unique())
    )
    per_order = (
        attempts.lazy()
        .select("account_id")
        .unique()
        .join(multi, on="account_id", how="left")
        .join(failed, on="account_id", how="left")
        .with_columns(
            pl.col("max_attempts_one_order_lifetime", "max_instruments_one_order_lifetime").fill_null(1),
            pl.col("orders_with_failed_payment_lifetime").fill_null(0),
        )
    )
    return per_account.join(per_order, on="account_id", how="left").collect()

"""Payment attempts per account: failures, instruments tried, decline codes.

Input: the payment attempts of a set of accounts as known at ``t``. Output: one row per
account_id with at least one attempt.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from features.catalogue import Feature, smoothed_rate
from features.time import WINDOWS, in_window

DECLINE_CODES = ("insufficient_funds", "card_declined", "risk_declined", "timeout")
FAILED_PRIOR = 0.05


def payment_features(t: datetime) -> list[Feature]:
    """Declarations of every payment column, aggregating attempts per account."""
    failed = ~pl.col("succeeded")
    out: list[Feature] = []
    for w in WINDOWS:
        m = in_window("attempted_at", t, w)
        out += [
            Feature(f"payment_attempts_{w}", "payments", w, "attempts", "payment attempts", m.cast(pl.UInt32).sum()),
            Feature(f"failed_payment_attempts_{w}", "payments", w, "attempts", "failed payment attempts", (m & failed).cast(pl.UInt32).sum()),
            Feature(f"failed_payment_rate_{w}", "payments", w, "share", f"failed share of attempts (prior {FAILED_PRIOR})",
                    smoothed_rate((m & failed).cast(pl.UInt32).sum(), m.cast(pl.UInt32).sum(), FAILED_PRIOR), fill=FAILED_PRIOR),
        ]  # fmt: skip
        if w in ("7d", "30d", "lifetime"):
            out.append(Feature(f"instruments_tried_{w}", "payments", w, "instruments", "distinct instruments tried",
                               pl.col("instrument_id").filter(m).n_unique()))  # fmt: skip
    code = pl.col("failure_code")
    out += [
        Feature(f"declines_{c}_lifetime", "payments", "lifetime", "attempts", f"attempts failed with code {c}",
                (code == c).fill_null(False).cast(pl.UInt32).sum())
        for c in DECLINE_CODES
    ]  # fmt: skip
    out += [
        Feature("declines_other_lifetime", "payments", "lifetime", "attempts", "attempts failed with any other code",
                (failed & ~code.is_in(DECLINE_CODES).fill_null(False)).cast(pl.UInt32).sum()),
        Feature("instruments_never_succeeded_lifetime", "payments", "lifetime", "instruments",
                "instruments tried that never had a successful attempt",
                pl.col("instrument_id").n_unique() - pl.col("instrument_id").filter(pl.col("succeeded")).n_unique()),
    ]  # fmt: skip
    return out


def per_order_features() -> list[Feature]:
    return [
        Feature("max_attempts_one_order_lifetime", "payments", "lifetime", "attempts", "most payment attempts on one order"),
        Feature("max_instruments_one_order_lifetime", "payments", "lifetime", "instruments", "most instruments tried on one order"),
        Feature("orders_with_failed_payment_lifetime", "payments", "lifetime", "orders", "orders with at least one failed attempt"),
    ]  # fmt: skip


def payment_history(attempts: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """All payment columns for every account with at least one attempt known at t."""
    per_account = attempts.group_by("account_id").agg([f.expr for f in payment_features(t)])
    per_order = (
        attempts.group_by("account_id", "order_id")
        .agg(n=pl.len(), instruments=pl.col("instrument_id").n_unique(), failed=(~pl.col("succeeded")).any())
        .group_by("account_id")
        .agg(
            max_attempts_one_order_lifetime=pl.col("n").max(),
            max_instruments_one_order_lifetime=pl.col("instruments").max(),
            orders_with_failed_payment_lifetime=pl.col("failed").cast(pl.UInt32).sum(),
        )
    )
    return per_account.join(per_order, on="account_id", how="left")

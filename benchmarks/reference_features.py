"""A minimal polars reference of the feature job's core subset, the yardstick of its speed.

Per account, as of the end of AS_OF: twelve order and cancellation counts over five windows
(60 windowed aggregates), and, for each kind of entity (device, card, address, network), how
many accounts share the most shared one it uses. No validation, no catalogue, no rings: the
plain polars a data scientist would write for these columns, read from the same snapshot.

    .venv/bin/python benchmarks/reference_features.py DATA AS_OF OUT
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from contract.tables import TABLES
from features.entities import KINDS, SOURCES

WINDOWS = {"1d": 1, "7d": 7, "30d": 30, "90d": 90, "lifetime": None}


def counts() -> dict[str, pl.Expr]:
    """What is counted per order: the twelve conditions (an amount for the last)."""
    cancelled = pl.col("cancelled_at").is_not_null()
    by = pl.col("cancel_initiator")
    buyer = by == "buyer"
    since = pl.coalesce("paid_at", "placed_at")
    return {
        "orders": pl.col("placed_at").is_not_null(),  # a column, not a literal: one per order
        "cancels": cancelled,
        "paid_orders": pl.col("paid_at").is_not_null(),
        "delivered_orders": pl.col("delivered_at").is_not_null(),
        "buyer_cancels": buyer,
        "seller_cancels": by == "seller",
        "logistics_cancels": by == "logistics",
        "payment_cancels": by == "payment",
        "platform_cancels": by == "platform",
        "fast_buyer_cancels": buyer & (pl.col("cancelled_at") - since <= timedelta(minutes=10)),
        "unpaid_timeouts": pl.col("cancel_reason") == "payment_timeout",
        "buyer_cancelled_usd": pl.when(buyer).then(pl.col("amount_usd")),
    }


def main(data: Path, as_of: date, out: Path) -> None:
    t = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
    orders = pl.scan_parquet(data / "orders.parquet").filter(pl.col("placed_at") < t)
    # an order's cancellation, payment or delivery after t is not known at t
    orders = orders.with_columns(
        pl.when(pl.col(c) < t).then(pl.col(c)).alias(c) for c in ("paid_at", "delivered_at", "cancelled_at")
    ).with_columns(
        pl.when(pl.col("cancelled_at").is_not_null()).then(pl.col("cancel_initiator")).alias("cancel_initiator")
    )
    windowed = []
    for window, days in WINDOWS.items():
        inside = pl.col("placed_at").is_not_null() if days is None else pl.col("placed_at") >= t - timedelta(days=days)
        for name, value in counts().items():
            windowed.append(pl.when(inside).then(value).cast(pl.Float64).sum().alias(f"{name}_{window}"))
    history = orders.group_by("account_id").agg(windowed)

    links = pl.concat(
        pl.scan_parquet(data / f"{table}.parquet")
        .filter(pl.col(TABLES[table].event_time) < t)
        .select("account_id", kind=pl.lit(kind), entity=pl.col(column))
        .drop_nulls("entity")
        for table, column, kind in SOURCES  # where an account meets an entity, as the job reads them
    ).unique()
    shared = links.with_columns(accounts=pl.len().over("kind", "entity"))
    sharing = shared.group_by("account_id").agg(
        pl.when(pl.col("kind") == kind).then(pl.col("accounts")).max().alias(f"max_accounts_per_{kind}")
        for kind in KINDS
    )

    accounts = pl.scan_parquet(data / "accounts.parquet").filter(pl.col("created_at") < t).select("account_id")
    table = accounts.join(history, on="account_id", how="left").join(sharing, on="account_id", how="left")
    table.sort("account_id").collect().write_parquet(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), Path(sys.argv[3]))

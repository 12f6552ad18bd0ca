"""Order and cancellation history per account: counts by cause and stage over windows,
time to cancel, campaigns and flash sales, sellers and items, bursts and tempo.

Input: the orders of a set of accounts as known at ``t`` (``features.time.known_at``), with the
campaign context (``features.context.campaign_context``). Output: one row per account_id.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from contract.values import CANCEL_INITIATORS, CANCEL_STAGES, CancelInitiator
from features.columns import Feature, Unit, Windowed, WindowedRate
from features.exprs import before, equals, smoothed_rate
from features.time import WINDOWS, Frame, in_window, windowed_sums

STAGES = CANCEL_STAGES
FAST_MINUTES = 10  # a buyer cancel this soon after placing (or paying) is "fast"
EARLY_MINUTES = 5  # an order this soon after a campaign's first order is "early"
BUYER_CANCEL_PRIOR = 0.08
CANCEL_PRIOR = 0.18
DELIVERED_PRIOR = 0.6


def order_facts(orders: Frame, campaigns: pl.DataFrame) -> pl.LazyFrame:
    """One row per order with the flags the history aggregates count."""
    cancelled = pl.col("cancelled_at").is_not_null()
    # A cancel before payment is the negation of "paid before the cancel" (features.exprs.before).
    paid_first = before("paid_at", "cancelled_at")
    shipped_first = before("shipped_at", "cancelled_at")
    stage = (
        pl.when(~cancelled)
        .then(None)
        .when(shipped_first)
        .then(pl.lit("after_shipment"))
        .when(paid_first)
        .then(pl.lit("after_payment"))
        .otherwise(pl.lit("before_payment"))
    )
    since = pl.when(paid_first).then(pl.col("paid_at")).otherwise(pl.col("placed_at"))
    buyer = equals("cancel_initiator", CancelInitiator.BUYER)
    # Durations are compared as durations: whole-second conversions would round 10 min 0.9 s down.
    to_cancel = pl.col("cancelled_at") - since
    since_campaign = pl.col("placed_at") - pl.col("campaign_start")
    list_price = pl.col("amount_usd") + pl.col("discount_usd")
    return (
        orders.lazy()
        .join(campaigns.lazy(), on="campaign_id", how="left")
        .with_columns(
            cancelled=cancelled,
            stage=stage,
            buyer=buyer,
            buyer_minutes=pl.when(buyer).then(to_cancel.dt.total_microseconds() / 60e6),
            fast=buyer & (to_cancel <= pl.duration(minutes=FAST_MINUTES)).fill_null(False),
            timeout=equals("cancel_reason", "payment_timeout"),
            campaign=pl.col("campaign_id").is_not_null(),
            flash=pl.col("flash").fill_null(False),
            early=(since_campaign <= pl.duration(minutes=EARLY_MINUTES)).fill_null(False),
            discount_share=pl.when(list_price > 0).then(pl.col("discount_usd") / list_price).otherwise(0.0),
        )
    )


# Counts (and one amount) per account over every window in features.time.WINDOWS.
HISTORY_SUMS = [
    Windowed("orders", "orders", Unit.ORDERS, "orders placed", pl.col("placed_at").is_not_null()),
    Windowed(
        "cancels", "cancellations", Unit.ORDERS, "orders placed in the window and cancelled by t", pl.col("cancelled")
    ),
    Windowed("paid_orders", "orders", Unit.ORDERS, "orders paid by t", pl.col("paid_at").is_not_null()),
    Windowed("delivered_orders", "orders", Unit.ORDERS, "orders delivered by t", pl.col("delivered_at").is_not_null()),
    Windowed(
        "buyer_cancelled_usd",
        "cancellations",
        Unit.USD,
        "value of the orders the buyer cancelled",
        pl.when(pl.col("buyer")).then(pl.col("amount_usd")).otherwise(0.0),
    ),
    *[
        Windowed(
            f"{who}_cancels",
            "cancellations",
            Unit.ORDERS,
            f"orders cancelled by the {who}",
            equals("cancel_initiator", who),
        )
        for who in CANCEL_INITIATORS
    ],
    *[
        Windowed(
            f"buyer_cancels_{stage}",
            "cancellations",
            Unit.ORDERS,
            f"buyer cancellations {stage.replace('_', ' ')}"
            + (" (before shipment)" if stage == "after_payment" else ""),
            pl.col("buyer") & (pl.col("stage") == stage),
        )
        for stage in STAGES
    ],
    Windowed(
        "fast_buyer_cancels",
        "timing",
        Unit.ORDERS,
        f"buyer cancellations within {FAST_MINUTES} minutes of placing (or paying for) the order",
        pl.col("fast"),
    ),
    Windowed(
        "unpaid_timeouts",
        "payments",
        Unit.ORDERS,
        "orders never paid and cancelled as payment_timeout",
        pl.col("timeout"),
    ),
    Windowed(
        "campaign_orders",
        "campaigns",
        Unit.ORDERS,
        "orders placed under a campaign",
        pl.col("campaign"),
        needs=("campaigns",),
    ),
    Windowed(
        "campaign_cancels",
        "campaigns",
        Unit.ORDERS,
        "campaign orders cancelled by the buyer or unpaid",
        pl.col("campaign") & (pl.col("buyer") | pl.col("timeout")),
        needs=("campaigns",),
    ),
    Windowed(
        "flash_orders",
        "campaigns",
        Unit.ORDERS,
        "orders placed in a flash sale (a campaign whose orders span under 6 hours)",
        pl.col("flash"),
        needs=("campaigns",),
    ),
    Windowed(
        "early_campaign_orders",
        "campaigns",
        Unit.ORDERS,
        f"orders placed within {EARLY_MINUTES} minutes of the campaign's first order",
        pl.col("early"),
        needs=("campaigns",),
    ),
    Windowed(
        "discount_on_buyer_cancels_usd",
        "campaigns",
        Unit.USD,
        "discount value on orders the buyer cancelled",
        pl.when(pl.col("buyer")).then(pl.col("discount_usd")).otherwise(0.0),
    ),
]
HISTORY_RATES = [
    WindowedRate("cancel_rate", "cancellations", "cancelled share of orders", "cancels", "orders", CANCEL_PRIOR),
    WindowedRate(
        "delivered_rate", "orders", "delivered share of orders", "delivered_orders", "orders", DELIVERED_PRIOR
    ),
    WindowedRate(
        "buyer_cancel_rate",
        "cancellations",
        "buyer-cancelled share of orders",
        "buyer_cancels",
        "orders",
        BUYER_CANCEL_PRIOR,
    ),
]


def history_columns() -> list[Feature]:
    """Declarations of every history column, in table order."""
    return [
        *[f for s in HISTORY_SUMS for f in s.features(WINDOWS)],
        *_rates(),
        *_row_features(),
        *_concentration_columns(),
    ]


def _rates() -> list[Feature]:
    """Columns computed from the windowed sums rather than aggregated from rows."""
    return [
        *[f for r in HISTORY_RATES for f in r.features(WINDOWS)],
        Feature(
            "fast_buyer_cancel_share_lifetime",
            "timing",
            "lifetime",
            Unit.SHARE,
            "fast buyer cancels over all buyer cancels (prior 0.2)",
            smoothed_rate(pl.col("fast_buyer_cancels_lifetime"), pl.col("buyer_cancels_lifetime"), 0.2),
            fill=0.2,
        ),
        *[
            Feature(
                f"buyer_cancel_{stage}_share_lifetime",
                "cancellations",
                "lifetime",
                Unit.SHARE,
                f"buyer cancellations {stage.replace('_', ' ')} over all buyer cancellations (prior 0.3)",
                smoothed_rate(pl.col(f"buyer_cancels_{stage}_lifetime"), pl.col("buyer_cancels_lifetime"), 0.3),
                fill=0.3,
            )
            for stage in STAGES
        ],
        Feature(
            "early_campaign_share_lifetime",
            "campaigns",
            "lifetime",
            Unit.SHARE,
            "early orders over campaign orders (prior 0.05)",
            smoothed_rate(pl.col("early_campaign_orders_lifetime"), pl.col("campaign_orders_lifetime"), 0.05),
            fill=0.05,
            needs=("campaigns",),
        ),
    ]


def _row_features() -> list[Feature]:
    """Aggregations that do not add up over windows: medians, distinct counts, first/last."""
    minutes = pl.col("buyer_minutes")
    days = lambda e: e.dt.total_seconds() / 86_400
    return [
        Feature(
            "buyer_cancel_minutes_median_30d",
            "timing",
            "30d",
            Unit.MINUTES,
            "median minutes from placing (or paying) to a buyer cancel",
            lambda t: minutes.filter(in_window("placed_at", t, "30d")).median(),
            fill=None,
        ),
        Feature(
            "buyer_cancel_minutes_median_lifetime",
            "timing",
            "lifetime",
            Unit.MINUTES,
            "median minutes from placing (or paying) to a buyer cancel",
            minutes.median(),
            fill=None,
        ),
        Feature(
            "buyer_cancel_minutes_p10_lifetime",
            "timing",
            "lifetime",
            Unit.MINUTES,
            "10th percentile of minutes to a buyer cancel",
            minutes.quantile(0.1, interpolation="linear"),
            fill=None,
        ),
        Feature(
            "discount_share_mean_lifetime",
            "campaigns",
            "lifetime",
            Unit.SHARE,
            "mean discount as a share of list price",
            pl.col("discount_share").mean(),
            fill=None,
        ),
        Feature(
            "order_usd_mean_lifetime",
            "orders",
            "lifetime",
            Unit.USD,
            "mean order total after discount",
            pl.col("amount_usd").mean(),
            fill=None,
        ),
        Feature(
            "distinct_sellers_lifetime",
            "sellers",
            "lifetime",
            Unit.SELLERS,
            "sellers ordered from",
            pl.col("seller_id").n_unique(),
        ),
        Feature(
            "item_repeat_share_lifetime",
            "sellers",
            "lifetime",
            Unit.SHARE,
            "share of orders that repeat an item the account ordered before (1 - distinct items / orders)",
            1 - pl.col("item_id").n_unique() / pl.len(),
            fill=None,
        ),
        Feature(
            "distinct_items_lifetime", "sellers", "lifetime", Unit.ITEMS, "items ordered", pl.col("item_id").n_unique()
        ),
        Feature(
            "first_order_days_ago",
            "tempo",
            "lifetime",
            Unit.DAYS,
            "days from the first order to t",
            lambda t: days(t - pl.col("placed_at").min()),
            fill=None,
        ),
        Feature(
            "last_order_days_ago",
            "tempo",
            "lifetime",
            Unit.DAYS,
            "days from the last order to t",
            lambda t: days(t - pl.col("placed_at").max()),
            fill=None,
        ),
        Feature(
            "order_gap_hours_median_lifetime",
            "tempo",
            "lifetime",
            Unit.HOURS,
            "median hours between consecutive orders",
            pl.col("placed_at").sort().diff().dt.total_seconds().median() / 3600,
            fill=None,
        ),
        Feature(
            "active_days_lifetime",
            "tempo",
            "lifetime",
            Unit.DAYS,
            "distinct UTC days with an order",
            pl.col("placed_at").dt.date().n_unique(),
        ),
    ]


def _concentration_columns() -> list[Feature]:
    """Declarations of the seller/item repeat and concentration columns (see `concentration`)."""
    return [
        Feature(
            "max_buyer_cancels_same_item_lifetime",
            "sellers",
            "lifetime",
            Unit.ORDERS,
            "most buyer cancellations of one item",
        ),
        Feature(
            "max_buyer_cancels_same_seller_lifetime",
            "sellers",
            "lifetime",
            Unit.ORDERS,
            "most buyer cancellations at one seller",
        ),
        Feature(
            "buyer_cancel_top_seller_share_lifetime",
            "sellers",
            "lifetime",
            Unit.SHARE,
            "share of buyer cancellations at the seller with most of them (prior 0.5 over 2)",
            fill=0.5,
        ),
        Feature(
            "buyer_cancel_seller_hhi_lifetime",
            "sellers",
            "lifetime",
            Unit.INDEX,
            "Herfindahl index of buyer cancellations across sellers (1 = all at one seller)",
        ),
        Feature(
            "orders_top_seller_share_lifetime",
            "sellers",
            "lifetime",
            Unit.SHARE,
            "share of orders at the seller with most of them",
            fill=None,
        ),
        Feature(
            "max_orders_in_hour_lifetime", "tempo", "lifetime", Unit.ORDERS, "most orders placed in one clock hour"
        ),
        Feature("max_orders_in_day_lifetime", "tempo", "lifetime", Unit.ORDERS, "most orders placed in one UTC day"),
        Feature("max_orders_in_hour_30d", "tempo", "30d", Unit.ORDERS, "most orders placed in one clock hour"),
    ]


def concentration(facts: pl.LazyFrame, t: datetime) -> pl.DataFrame:
    """Repeats and concentration per account. Grouping every order by (account, seller)
    barely shrinks the table, so cancellations are grouped on their own and order-level
    concentration uses one (account, seller) count."""
    buyer = facts.lazy().filter(pl.col("buyer"))
    same_item = (
        buyer.group_by("account_id", "item_id")
        .len()
        .group_by("account_id")
        .agg(max_buyer_cancels_same_item_lifetime=pl.col("len").max())
    )
    per_seller = buyer.group_by("account_id", "seller_id").len()
    sellers = per_seller.group_by("account_id").agg(
        max_buyer_cancels_same_seller_lifetime=pl.col("len").max(),
        buyer_cancel_top_seller_share_lifetime=(pl.col("len").max() + 1) / (pl.col("len").sum() + 2),
        buyer_cancel_seller_hhi_lifetime=((pl.col("len") / pl.col("len").sum()) ** 2).sum(),
    )
    orders = (
        facts.lazy()
        .group_by("account_id", "seller_id")
        .len()
        .group_by("account_id")
        .agg(orders_top_seller_share_lifetime=pl.col("len").max() / pl.col("len").sum())
    )
    hourly = pl.col("placed_at").dt.truncate("1h").alias("h")
    bursts = (
        facts.lazy()
        .group_by("account_id", hourly)
        .len()
        .group_by("account_id")
        .agg(max_orders_in_hour_lifetime=pl.col("len").max())
    )
    # The 30-day burst counts the orders inside the window, also in a clock hour it cuts.
    recent = facts.lazy().filter(in_window("placed_at", t, "30d")).group_by("account_id", hourly).len()
    recent_bursts = recent.group_by("account_id").agg(max_orders_in_hour_30d=pl.col("len").max())
    day = facts.lazy().group_by("account_id", pl.col("placed_at").dt.date().alias("d")).len()
    daily = day.group_by("account_id").agg(max_orders_in_day_lifetime=pl.col("len").max())
    frames = [orders, bursts, recent_bursts, daily, sellers, same_item]
    result = frames[0]
    for frame in frames[1:]:
        result = result.join(frame, on="account_id", how="left")
    names = [f.name for f in _concentration_columns()]
    return result.select("account_id", *names).with_columns(pl.col("max_orders_in_hour_30d").fill_null(0)).collect()


def history(orders: Frame, campaigns: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """All history columns for every account with at least one order known at t."""
    facts = order_facts(orders, campaigns)
    sums = windowed_sums(facts, "placed_at", t, HISTORY_SUMS)
    other = facts.group_by("account_id").agg(f.at(t) for f in _row_features()).collect()
    rates = [f.at(t) for f in _rates()]
    return (
        sums.join(other, on="account_id").with_columns(rates).join(concentration(facts, t), on="account_id", how="left")
    )

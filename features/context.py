"""Context that clears honest buyers: what is normal for a destination region, a seller and a
campaign, and how an account's logistics- and seller-caused cancellations compare with it.

The context tables aggregate every account's orders known at ``t`` (one row per region, seller
or campaign: small, broadcast to every engine); ``context`` then needs only the orders of
a set of accounts.
"""

from __future__ import annotations

import polars as pl

from features.columns import Feature, Unit
from features.exprs import before, equals, smoothed_rate
from features.time import Frame

FLASH_HOURS = 6  # a campaign whose orders (first to 90th percentile) span less than this is a flash sale
LOGISTICS_PRIOR = 0.03
STOCKOUT_PRIOR = 0.02
REFUSAL_PRIOR = 0.02
SELLER_SHARE_PRIOR = 3  # a seller with few cancellations does not look targeted by one
CONTEXT_STRENGTH = 20  # region and seller rates are pooled over many buyers: a firmer prior


def _rate(events: pl.Expr, trials: pl.Expr, prior: float) -> pl.Expr:
    return smoothed_rate(events, trials, prior, strength=CONTEXT_STRENGTH)


def campaign_context(orders: Frame) -> pl.DataFrame:
    """Per campaign: first order time, whether it is a flash sale, and its stock-out rate."""
    paid = pl.col("paid_at").is_not_null()
    return (
        orders.lazy()
        .filter(pl.col("campaign_id").is_not_null())
        .group_by("campaign_id")
        .agg(
            campaign_start=pl.col("placed_at").min(),
            span=pl.col("placed_at").quantile(0.9, interpolation="linear") - pl.col("placed_at").min(),
            campaign_stockout_rate=_rate(
                (paid & equals("cancel_initiator", "seller")).sum(), paid.sum(), STOCKOUT_PRIOR
            ),
        )
        .with_columns(flash=pl.col("span") < pl.duration(hours=FLASH_HOURS))
        .drop("span")
        .collect()
    )


def region_context(orders: Frame) -> pl.DataFrame:
    """Per destination (ship_country, ship_region): logistics failures and buyer refusals per shipped order."""
    shipped = pl.col("shipped_at").is_not_null()
    after_ship = shipped & before("shipped_at", "cancelled_at")
    return (
        orders.lazy()
        .group_by("ship_country", "ship_region")
        .agg(
            region_logistics_rate=_rate(
                (shipped & equals("cancel_initiator", "logistics")).sum(), shipped.sum(), LOGISTICS_PRIOR
            ),
            region_refusal_rate=_rate(
                (after_ship & equals("cancel_initiator", "buyer")).sum(), shipped.sum(), REFUSAL_PRIOR
            ),
        )
        .collect()
    )


def seller_context(orders: Frame) -> pl.DataFrame:
    """Per seller: merchant (seller-initiated) cancellations per paid order, and how many of its
    orders buyers cancelled."""
    paid = pl.col("paid_at").is_not_null()
    return (
        orders.lazy()
        .group_by("seller_id")
        .agg(
            seller_stockout_rate=_rate((paid & equals("cancel_initiator", "seller")).sum(), paid.sum(), STOCKOUT_PRIOR),
            seller_buyer_cancels=equals("cancel_initiator", "buyer").sum(),
        )
        .collect()
    )


TARGET_FEATURES = [
    Feature(
        "max_seller_cancel_share_lifetime",
        "context",
        "lifetime",
        Unit.SHARE,
        "the largest share of one seller's buyer-cancelled orders that this account cancelled "
        f"(over the seller's buyer cancellations plus {SELLER_SHARE_PRIOR})",
    ),
]


def context_columns() -> list[Feature]:
    shipped = pl.col("shipped_at").is_not_null()
    paid = pl.col("paid_at").is_not_null()
    after_ship = before("shipped_at", "cancelled_at")
    logistics = (shipped & equals("cancel_initiator", "logistics")).cast(pl.UInt32)  # as the region rate counts them
    seller = (paid & equals("cancel_initiator", "seller")).cast(pl.UInt32)
    refusal = (after_ship & equals("cancel_initiator", "buyer")).cast(pl.UInt32)
    # when/then rather than a filter inside the aggregation: polars keeps its vectorised sum
    expected_logistics = pl.when(shipped).then(pl.col("region_logistics_rate")).otherwise(0.0).sum()
    stockout = pl.max_horizontal("seller_stockout_rate", "campaign_stockout_rate")
    expected_stockouts = pl.when(paid).then(stockout).otherwise(0.0).sum()
    expected_refusals = pl.when(shipped).then(pl.col("region_refusal_rate")).otherwise(0.0).sum()
    return [
        Feature(
            "logistics_cancels_expected_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "logistics cancellations expected from the destination regions' failure rates over the account's shipped orders",
            expected_logistics,
        ),
        Feature(
            "logistics_cancels_excess_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "logistics cancellations beyond what the destination regions explain",
            logistics.sum() - expected_logistics,
        ),
        Feature(
            "seller_cancels_expected_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "merchant cancellations expected from the sellers' and campaigns' stock-out rates over the paid orders",
            expected_stockouts,
        ),
        Feature(
            "seller_cancels_excess_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "merchant cancellations beyond what the sellers and campaigns explain",
            seller.sum() - expected_stockouts,
        ),
        Feature(
            "refusals_expected_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "buyer cancellations after shipment expected from the destination regions' refusal rates",
            expected_refusals,
        ),
        Feature(
            "refusals_excess_lifetime",
            "context",
            "lifetime",
            Unit.ORDERS,
            "buyer cancellations after shipment beyond what the destination regions explain",
            refusal.sum() - expected_refusals,
        ),
        Feature(
            "region_logistics_rate_mean",
            "context",
            "lifetime",
            Unit.SHARE,
            "mean logistics failure rate of the account's destination regions",
            pl.col("region_logistics_rate").mean(),
            fill=None,
        ),
        *TARGET_FEATURES,
    ]


def context(orders: Frame, campaigns: pl.DataFrame, regions: pl.DataFrame, sellers: pl.DataFrame) -> pl.DataFrame:
    """Context columns for every account with at least one order."""
    joined = (
        orders.lazy()
        .join(regions.lazy(), on=["ship_country", "ship_region"], how="left", nulls_equal=True)
        .join(sellers.lazy(), on="seller_id", how="left")
        .join(campaigns.lazy().select("campaign_id", "campaign_stockout_rate"), on="campaign_id", how="left")
    )
    per_account = joined.group_by("account_id").agg([f.at() for f in context_columns() if f.expr is not None])
    # Sabotage aims at a seller: how much of one seller's cancellations this one account made.
    cancelled = orders.lazy().filter(equals("cancel_initiator", "buyer")).group_by("account_id", "seller_id").len()
    targets = (
        cancelled.join(sellers.lazy().select("seller_id", "seller_buyer_cancels"), on="seller_id")
        .group_by("account_id")
        .agg(
            max_seller_cancel_share_lifetime=(
                pl.col("len") / (pl.col("seller_buyer_cancels") + SELLER_SHARE_PRIOR)
            ).max()
        )
    )
    return per_account.join(targets, on="account_id", how="left").collect()

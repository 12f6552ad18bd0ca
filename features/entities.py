"""The device/payment graph as of ``t``: which accounts share devices, payment instruments,
shipping addresses and network prefixes, and what the sharing looks like.

Edges come only from orders, payment attempts and sessions known at ``t``; label-derived
figures use only labels decided before ``t`` and never an account's own label. The entity
figures pool every account (a global step); rings are built from the same links
(``features.rings``).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from features.account import NEW_ACCOUNT_DAYS, is_new
from features.columns import Feature, Unit, needing
from features.exprs import smoothed_rate
from features.labels import confirmed_abusers
from features.time import Frame

KINDS = ("device", "card", "address", "net")
PLURAL = {"device": Unit.DEVICES, "card": Unit.CARDS, "address": Unit.ADDRESSES, "net": Unit.NETS}
SOURCE_OF = {"device": "devices", "card": "cards", "address": "addresses", "net": "networks"}  # features.sources
OTHERS_CANCEL_PRIOR = 0.08

# (table, column, kind): where an account meets an entity.
SOURCES = (
    ("orders", "device_id", "device"),
    ("orders", "payment_instrument_id", "card"),
    ("orders", "address_id", "address"),
    ("orders", "ip_prefix", "net"),
    ("payment_attempts", "instrument_id", "card"),
    ("sessions", "device_id", "device"),
    ("sessions", "ip_prefix", "net"),
)


def entity_links(tables: dict[str, Frame | None]) -> pl.DataFrame:
    """Unique (account_id, kind, entity_id) links from the given tables (absent ones skipped)."""
    parts = []
    for table in dict.fromkeys(table for table, _, _ in SOURCES):
        if tables.get(table) is None:
            continue
        columns = [(column, kind) for source, column, kind in SOURCES if source == table]
        # One pass over the table: its distinct (account, entity...) combinations are far fewer
        # than its rows (an account keeps its device and card), and each kind reads those.
        combos = tables[table].lazy().select("account_id", *(column for column, _ in columns)).unique()
        parts += [
            combos.select("account_id", pl.lit(kind).alias("kind"), pl.col(column).alias("entity_id"))
            .drop_nulls("entity_id")
            .unique()  # de-duplicate per source: the concatenation stays small
            for column, kind in columns
        ]
    return pl.concat(parts).unique().sort("kind", "entity_id", "account_id").collect()


def known_abusers(labels: pl.DataFrame | None, accounts: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """account_id, known_abuser: the decision in force at t is abuse (``features.labels``)."""
    confirmed = confirmed_abusers(labels, t)
    return accounts.select("account_id", known_abuser=pl.col("account_id").is_in(confirmed))


def account_facts(accounts: pl.DataFrame, history: pl.DataFrame, known: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """Per account: what entity and ring figures pool (new, orders, cancels, known abuser)."""
    cols = [
        "orders_lifetime",
        "buyer_cancels_lifetime",
        "unpaid_timeouts_lifetime",
        "flash_orders_lifetime",
        "fast_buyer_cancels_lifetime",
        "discount_on_buyer_cancels_usd_lifetime",
    ]
    return (
        accounts.select("account_id", "created_at")
        .join(history.select("account_id", *cols), on="account_id", how="left")
        .join(known, on="account_id", how="left")
        .with_columns(pl.col(cols).fill_null(0), new=is_new(t))
    )


def entity_stats(links: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """Per (kind, entity_id): accounts sharing it, new ones, their orders and buyer cancels, known abusers."""
    return (
        links.join(facts, on="account_id", how="inner")
        .group_by("kind", "entity_id")
        .agg(
            accounts=pl.len(),
            new_accounts=pl.col("new").cast(pl.UInt32).sum(),
            orders=pl.col("orders_lifetime").sum(),
            buyer_cancels=pl.col("buyer_cancels_lifetime").sum(),
            abusers=pl.col("known_abuser").cast(pl.UInt32).sum(),
        )
    )


def entities_columns() -> list[Feature]:
    out: list[Feature] = []
    for kind in KINDS:
        out += needing(
            [
                Feature(
                    f"{PLURAL[kind]}_used",
                    "entities",
                    "lifetime",
                    PLURAL[kind],
                    f"distinct {PLURAL[kind]} the account was seen with",
                ),
                Feature(
                    f"max_accounts_per_{kind}",
                    "entities",
                    "lifetime",
                    Unit.ACCOUNTS,
                    f"most accounts (including this one) sharing one of its {kind}s",
                ),
                Feature(
                    f"max_new_others_per_{kind}",
                    "entities",
                    "lifetime",
                    Unit.ACCOUNTS,
                    f"most other accounts registered in the last {NEW_ACCOUNT_DAYS} days on one of its {kind}s",
                ),
                Feature(
                    f"max_others_buyer_cancel_rate_{kind}",
                    "entities",
                    "lifetime",
                    Unit.SHARE,
                    f"highest buyer-cancel rate of the other accounts pooled on one of its {kind}s (prior {OTHERS_CANCEL_PRIOR})",
                    fill=OTHERS_CANCEL_PRIOR,
                ),
                Feature(
                    f"max_known_abuser_share_{kind}",
                    "entities",
                    "lifetime",
                    Unit.SHARE,
                    f"highest share of other accounts on one of its {kind}s with an abuse label in force before t",
                    needs=("labels",),
                ),
            ],
            SOURCE_OF[kind],
        )
    return out


def entities(links: pl.DataFrame, stats: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """Per account: how widely and by whom its entities are shared, others only (never itself)."""
    own = facts.select("account_id", "new", "orders_lifetime", "buyer_cancels_lifetime", "known_abuser")
    others = pl.col("accounts") - 1
    per_link = (
        links.join(stats, on=["kind", "entity_id"])
        .join(own, on="account_id")
        .with_columns(
            others_new=pl.col("new_accounts") - pl.col("new").cast(pl.UInt32),
            others_rate=smoothed_rate(
                pl.col("buyer_cancels") - pl.col("buyer_cancels_lifetime"),
                pl.col("orders") - pl.col("orders_lifetime"),
                OTHERS_CANCEL_PRIOR,
            ),
            others_abuse=pl.when(others > 0)
            .then((pl.col("abusers") - pl.col("known_abuser").cast(pl.UInt32)) / others)
            .otherwise(0.0),
        )
    )

    # The largest of a column over one kind's links: null elsewhere, and max skips nulls (a
    # filter inside the aggregation would run group by group).
    def most(column: str, kind: str, where: pl.Expr | None = None) -> pl.Expr:
        of_kind = pl.col("kind") == kind
        return pl.when(of_kind if where is None else of_kind & where).then(pl.col(column)).max()

    wide = per_link.group_by("account_id").agg(
        expr
        for kind in KINDS
        for expr in (
            (pl.col("kind") == kind).sum().alias(f"{PLURAL[kind]}_used"),
            most("accounts", kind).alias(f"max_accounts_per_{kind}"),
            most("others_new", kind).alias(f"max_new_others_per_{kind}"),
            most("others_rate", kind, others > 0).alias(f"max_others_buyer_cancel_rate_{kind}"),
            most("others_abuse", kind).alias(f"max_known_abuser_share_{kind}"),
        )
    )
    return wide.select("account_id", *[f.name for f in entities_columns()])

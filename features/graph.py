"""The device/payment graph as of ``t``: which accounts share devices, payment instruments,
shipping addresses and network prefixes, what the sharing looks like, and the rings of
accounts linked through strong shared entities.

Edges come only from orders, payment attempts and sessions known at ``t``; label-derived
figures use only labels decided before ``t`` and never an account's own label.

Rings are connected components of the account-entity graph built from devices, cards and
addresses shared by at most ``RING_CAPS[kind]`` accounts. Network prefixes never link a ring
(a carrier's NAT prefix is shared by strangers), and an entity shared more widely than its cap
(a public kiosk, a marketplace test card) is left out of ring building; it still shows in the
per-entity figures. Components are found with scipy's sparse-graph routine (linear in edges);
networkx is used for one ring at a time (``ring_graph``).

Ring ids: ``R-<account_id of the founder>``, the founder being the member registered first
(ties broken by account_id). The same data always gives the same ids, and a ring keeps its id
from day to day as long as its founder stays in it: growing rings keep their id, merging rings
take the id of the older founder, and a part that splits off without the founder is named after
its own founder.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from features.catalogue import Feature, smoothed_rate
from features.labels import confirmed_abusers
from features.time import Frame

KINDS = ("device", "card", "address", "net")
PLURAL = {"device": "devices", "card": "cards", "address": "addresses", "net": "nets"}
RING_CAPS = {"device": 50, "card": 20, "address": 30}
NEW_ACCOUNT_DAYS = 30
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
    parts = [
        tables[table]
        .lazy()
        .select("account_id", pl.lit(kind).alias("kind"), pl.col(column).alias("entity_id"))
        .drop_nulls("entity_id")
        .unique()  # de-duplicate per source: the concatenation stays small
        for table, column, kind in SOURCES
        if tables.get(table) is not None
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
        .with_columns(pl.col(cols).fill_null(0), new=pl.col("created_at") >= t - timedelta(days=NEW_ACCOUNT_DAYS))
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


def entity_features() -> list[Feature]:
    out: list[Feature] = []
    for kind in KINDS:
        out += [
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
                "accounts",
                f"most accounts (including this one) sharing one of its {kind}s",
            ),
            Feature(
                f"max_new_others_per_{kind}",
                "entities",
                "lifetime",
                "accounts",
                f"most other accounts registered in the last {NEW_ACCOUNT_DAYS} days on one of its {kind}s",
            ),
            Feature(
                f"max_others_buyer_cancel_rate_{kind}",
                "entities",
                "lifetime",
                "share",
                f"highest buyer-cancel rate of the other accounts pooled on one of its {kind}s (prior {OTHERS_CANCEL_PRIOR})",
                fill=OTHERS_CANCEL_PRIOR,
            ),
            Feature(
                f"max_known_abuser_share_{kind}",
                "entities",
                "lifetime",
                "share",
                f"highest share of other accounts on one of its {kind}s with an abuse label in force before t",
            ),
        ]
    return out


def entity_sharing(links: pl.DataFrame, stats: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
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
    wide = per_link.group_by("account_id").agg(
        expr
        for kind in KINDS
        for expr in (
            (pl.col("kind") == kind).sum().alias(f"{PLURAL[kind]}_used"),
            pl.col("accounts").filter(pl.col("kind") == kind).max().alias(f"max_accounts_per_{kind}"),
            pl.col("others_new").filter(pl.col("kind") == kind).max().alias(f"max_new_others_per_{kind}"),
            pl.col("others_rate")
            .filter((pl.col("kind") == kind) & (others > 0))
            .max()
            .alias(f"max_others_buyer_cancel_rate_{kind}"),
            pl.col("others_abuse").filter(pl.col("kind") == kind).max().alias(f"max_known_abuser_share_{kind}"),
        )
    )
    return wide.select("account_id", *[f.name for f in entity_features()])


def ring_links(links: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """The links rings are built from: strong entities shared by 2..cap accounts."""
    caps = pl.DataFrame({"kind": list(RING_CAPS), "cap": list(RING_CAPS.values())})
    strong = stats.join(caps, on="kind").filter((pl.col("accounts") >= 2) & (pl.col("accounts") <= pl.col("cap")))
    return links.join(strong.select("kind", "entity_id"), on=["kind", "entity_id"])


def rings(accounts: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """account_id, ring_id for every account in a ring of two or more (see module docstring)."""
    if links.is_empty():
        return pl.DataFrame(schema={"account_id": pl.String, "ring_id": pl.String})
    acc = accounts.select("account_id", "created_at").with_row_index("a")
    ent = links.select("kind", "entity_id").unique().with_row_index("e")
    edges = links.join(acc, on="account_id").join(ent, on=["kind", "entity_id"])
    n_acc, n_ent = acc.height, ent.height
    rows = edges["a"].to_numpy().astype(np.int64)
    cols = edges["e"].to_numpy().astype(np.int64) + n_acc
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_acc + n_ent,) * 2)
    _, component = connected_components(graph, directed=False)
    members = acc.with_columns(component=pl.Series(component[:n_acc]))
    sized = members.with_columns(size=pl.len().over("component")).filter(pl.col("size") >= 2)
    founders = sized.sort("created_at", "account_id").group_by("component").agg(founder=pl.col("account_id").first())
    return sized.join(founders, on="component").select("account_id", ring_id=pl.lit("R-") + pl.col("founder"))


def ring_features() -> list[Feature]:
    return [
        Feature(
            "ring_size", "rings", "lifetime", "accounts", "accounts in the account's ring (1 when in none)", fill=1.0
        ),
        Feature(
            "ring_new_account_share",
            "rings",
            "lifetime",
            "share",
            f"share of the ring registered in the last {NEW_ACCOUNT_DAYS} days",
            fill=None,
        ),
        Feature(
            "ring_age_spread_days",
            "rings",
            "lifetime",
            "days",
            "days between the ring's first and last registration",
            fill=None,
        ),
        Feature(
            "ring_buyer_cancel_rate",
            "rings",
            "lifetime",
            "share",
            f"buyer cancellations over orders, pooled over the ring (prior {OTHERS_CANCEL_PRIOR})",
            fill=None,
        ),
        Feature(
            "ring_unpaid_timeout_rate",
            "rings",
            "lifetime",
            "share",
            "unpaid timeouts over orders, pooled over the ring (prior 0.02)",
            fill=None,
        ),
        Feature(
            "ring_flash_order_share",
            "rings",
            "lifetime",
            "share",
            "flash-sale orders over orders, pooled over the ring",
            fill=None,
        ),
        Feature(
            "ring_fast_cancel_share",
            "rings",
            "lifetime",
            "share",
            "fast buyer cancels over buyer cancels, pooled over the ring (prior 0.2)",
            fill=None,
        ),
        Feature(
            "ring_discount_on_cancels_usd_per_account",
            "rings",
            "lifetime",
            "USD",
            "discount value on buyer-cancelled orders, pooled over the ring, per member",
            fill=None,
        ),
        *[
            Feature(
                f"ring_shared_{PLURAL[kind]}",
                "rings",
                "lifetime",
                PLURAL[kind],
                f"{PLURAL[kind]} shared by two or more members (what links the ring)",
                fill=0.0,
            )
            for kind in RING_CAPS
        ],
        Feature(
            "ring_devices_per_account", "rings", "lifetime", "devices", "devices seen per member, ring mean", fill=None
        ),
        Feature(
            "ring_known_abuser_share",
            "rings",
            "lifetime",
            "share",
            "share of the ring's other members with an abuse label in force before t (never the account's own)",
        ),
    ]


def ring_profile(ring_of: pl.DataFrame, facts: pl.DataFrame, links: pl.DataFrame, strong: pl.DataFrame) -> pl.DataFrame:
    """Ring columns for every account in a ring, pooled over members; own label excluded.
    `links` are all account-entity links, `strong` the ones rings are built from (ring_links)."""
    devices = links.filter(pl.col("kind") == "device").group_by("account_id").agg(devices=pl.len())
    members = ring_of.join(facts, on="account_id").join(devices, on="account_id", how="left")
    shared = (
        strong.join(ring_of, on="account_id")
        .select("ring_id", "kind", "entity_id")
        .unique()
        .group_by("ring_id")
        .agg(
            pl.col("kind").filter(pl.col("kind") == kind).len().alias(f"ring_shared_{PLURAL[kind]}")
            for kind in RING_CAPS
        )
    )
    ring = (
        members.group_by("ring_id")
        .agg(
            ring_size=pl.len(),
            ring_new_account_share=pl.col("new").mean(),
            ring_age_spread_days=(pl.col("created_at").max() - pl.col("created_at").min()).dt.total_seconds() / 86_400,
            ring_buyer_cancel_rate=smoothed_rate(
                pl.col("buyer_cancels_lifetime").sum(), pl.col("orders_lifetime").sum(), OTHERS_CANCEL_PRIOR
            ),
            ring_unpaid_timeout_rate=smoothed_rate(
                pl.col("unpaid_timeouts_lifetime").sum(), pl.col("orders_lifetime").sum(), 0.02
            ),
            ring_flash_order_share=pl.col("flash_orders_lifetime").sum()
            / pl.col("orders_lifetime").sum().clip(lower_bound=1),
            ring_fast_cancel_share=smoothed_rate(
                pl.col("fast_buyer_cancels_lifetime").sum(), pl.col("buyer_cancels_lifetime").sum(), 0.2
            ),
            ring_discount_on_cancels_usd_per_account=pl.col("discount_on_buyer_cancels_usd_lifetime").mean(),
            ring_devices_per_account=pl.col("devices").fill_null(0).mean(),
            ring_abusers=pl.col("known_abuser").cast(pl.UInt32).sum(),
        )
        .join(shared, on="ring_id", how="left")
    )
    return (
        members.select("account_id", "ring_id", "known_abuser")
        .join(ring, on="ring_id")
        .select(
            "account_id",
            "ring_id",
            *[f.name for f in ring_features() if f.name != "ring_known_abuser_share"],
            ring_known_abuser_share=(pl.col("ring_abusers") - pl.col("known_abuser").cast(pl.UInt32))
            / (pl.col("ring_size") - 1),
        )
    )


def ring_graph(links: pl.DataFrame, members: list[str]) -> nx.Graph:
    """One ring for an analyst: its accounts and the entities (of every kind) at least two of
    them share, as a bipartite networkx graph. Nodes carry `kind` ("account" or an entity kind)."""
    mine = links.filter(pl.col("account_id").is_in(members))
    shared = mine.group_by("kind", "entity_id").agg(pl.col("account_id")).filter(pl.col("account_id").list.len() >= 2)
    graph = nx.Graph()
    graph.add_nodes_from(members, kind="account")
    for kind, entity, accounts in shared.iter_rows():
        node = f"{kind}:{entity}"
        graph.add_node(node, kind=kind)
        graph.add_edges_from((node, account) for account in accounts)
    return graph

"""Rings: groups of accounts linked through strong shared entities, and what each ring looks like.

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

import networkx as nx
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from features.account import NEW_ACCOUNT_DAYS
from features.columns import Feature, Unit, needing
from features.entities import OTHERS_CANCEL_PRIOR, PLURAL, SOURCE_OF
from features.exprs import smoothed_rate

RING_CAPS = {"device": 50, "card": 20, "address": 30}


def ring_links(links: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """The links rings are built from: strong entities shared by 2..cap accounts."""
    caps = pl.DataFrame({"kind": list(RING_CAPS), "cap": list(RING_CAPS.values())})
    strong = stats.join(caps, on="kind").filter((pl.col("accounts") >= 2) & (pl.col("accounts") <= pl.col("cap")))
    return links.join(strong.select("kind", "entity_id"), on=["kind", "entity_id"])


def ring_membership(accounts: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
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


def rings_columns() -> list[Feature]:
    declared = [
        Feature(
            "ring_size", "rings", "lifetime", Unit.ACCOUNTS, "accounts in the account's ring (1 when in none)", fill=1.0
        ),
        Feature(
            "ring_new_account_share",
            "rings",
            "lifetime",
            Unit.SHARE,
            f"share of the ring registered in the last {NEW_ACCOUNT_DAYS} days",
            fill=None,
        ),
        Feature(
            "ring_age_spread_days",
            "rings",
            "lifetime",
            Unit.DAYS,
            "days between the ring's first and last registration",
            fill=None,
        ),
        Feature(
            "ring_buyer_cancel_rate",
            "rings",
            "lifetime",
            Unit.SHARE,
            f"buyer cancellations over orders, pooled over the ring (prior {OTHERS_CANCEL_PRIOR})",
            fill=None,
        ),
        Feature(
            "ring_unpaid_timeout_rate",
            "rings",
            "lifetime",
            Unit.SHARE,
            "unpaid timeouts over orders, pooled over the ring (prior 0.02)",
            fill=None,
        ),
        Feature(
            "ring_flash_order_share",
            "rings",
            "lifetime",
            Unit.SHARE,
            "flash-sale orders over orders, pooled over the ring",
            fill=None,
        ),
        Feature(
            "ring_fast_cancel_share",
            "rings",
            "lifetime",
            Unit.SHARE,
            "fast buyer cancels over buyer cancels, pooled over the ring (prior 0.2)",
            fill=None,
        ),
        Feature(
            "ring_discount_on_cancels_usd_per_account",
            "rings",
            "lifetime",
            Unit.USD,
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
                needs=(SOURCE_OF[kind],),
            )
            for kind in RING_CAPS
        ],
        Feature(
            "ring_devices_per_account",
            "rings",
            "lifetime",
            Unit.DEVICES,
            "devices seen per member, ring mean",
            fill=None,
            needs=("devices",),
        ),
        Feature(
            "ring_known_abuser_share",
            "rings",
            "lifetime",
            Unit.SHARE,
            "share of the ring's other members with an abuse label in force before t (never the account's own)",
            needs=("labels",),
        ),
    ]
    return needing(declared, "links")  # without devices, cards or addresses nobody is known to be linked


def rings(ring_of: pl.DataFrame, facts: pl.DataFrame, links: pl.DataFrame, strong: pl.DataFrame) -> pl.DataFrame:
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
            *[f.name for f in rings_columns() if f.name != "ring_known_abuser_share"],
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

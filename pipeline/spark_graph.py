"""Rings on Spark: connected components of the strong account-entity links by joins, and ring
ids by the founder rule of ``features.rings``.

The local engine finds components with scipy on one machine. Here, an iterative join-based
algorithm on Spark frames: *large-star / small-star* (Kiveris et al., "Connected Components in
MapReduce and Beyond", SoCC 2014), which converges in O(log² n) rounds, each a few joins and
aggregations, unlike plain min-label propagation whose rounds grow with a component's diameter.

* Nodes are accounts only: an entity shared by accounts a1..ak becomes the k-1 edges from each
  account to the smallest of them, which keeps exactly the same components.
* A node's label is its *founder key*: its registration instant as fixed-width digits, then
  its account_id. The smallest label of a component is then the member registered first, ties
  broken by account_id: the founder of ``features.rings.ring_membership``, so the component's
  minimum is its ring id, with no ordering step after the search.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# Instants as non-negative fixed-width digits (microseconds since 1970 plus an offset that
# keeps any instant after the year -1200 positive), so that text order is time order.
_OFFSET = 10**17
_DIGITS = 19
RING_PREFIX = "R-"  # features.rings: ring ids are R-<account_id of the founder>


def founder_key(created_at: str = "created_at", account_id: str = "account_id"):
    """A text that sorts like (created_at, account_id)."""
    micros = F.unix_micros(F.col(created_at)) + F.lit(_OFFSET)
    return F.concat(F.lpad(micros.cast("string"), _DIGITS, "0"), F.col(account_id))


def account_of(key) -> F.Column:
    """The account_id in a founder key."""
    return F.substring(key, _DIGITS + 1, 1 << 30)


def entity_edges(links: DataFrame, accounts: DataFrame) -> DataFrame:
    """Edges (u, v) between founder keys, u > v: each account of an entity to the entity's
    smallest account. `links`: account_id, kind, entity_id; `accounts`: account_id, created_at
    (links of accounts not in it are left out, as scipy's graph leaves them out)."""
    keyed = links.join(accounts.select("account_id", founder_key().alias("key")), "account_id")
    smallest = keyed.groupBy("kind", "entity_id").agg(F.min("key").alias("root"))
    return (
        keyed.join(smallest, ["kind", "entity_id"])
        .where(F.col("key") != F.col("root"))
        .select(F.col("key").alias("u"), F.col("root").alias("v"))
        .distinct()
    )


def _neighbours(edges: DataFrame) -> DataFrame:
    """Both directions of each undirected edge: (node, neighbour)."""
    return edges.select(F.col("u").alias("n"), F.col("v").alias("m")).unionByName(
        edges.select(F.col("v").alias("n"), F.col("u").alias("m"))
    )


def _large_star(edges: DataFrame) -> DataFrame:
    """Each node links its larger neighbours to the smallest of itself and its neighbours."""
    pairs = _neighbours(edges)
    smallest = pairs.groupBy("n").agg(F.least(F.min("m"), F.col("n")).alias("low"))
    return (
        pairs.where(F.col("m") > F.col("n"))
        .join(smallest, "n")
        .select(F.col("m").alias("u"), F.col("low").alias("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node links itself and its smaller neighbours to the smallest of them."""
    smaller = _neighbours(edges).where(F.col("m") < F.col("n"))
    smallest = smaller.groupBy("n").agg(F.min("m").alias("low"))
    linked = smaller.join(smallest, "n").select(F.col("m").alias("u"), "low")
    own = smallest.select(F.col("n").alias("u"), "low")
    return linked.unionByName(own).where(F.col("u") != F.col("low")).select("u", F.col("low").alias("v")).distinct()


def components(edges: DataFrame, keep: Callable[[DataFrame], DataFrame], max_rounds: int = 100) -> DataFrame:
    """node, root: every node of `edges` (u, v) with the smallest node of its component.

    Rounds of large-star then small-star until a round changes no edge; `keep` materializes
    each round's edges (so that the plan does not grow with the rounds)."""
    current = keep(edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v")).distinct())
    for _ in range(max_rounds):
        following = keep(_small_star(_large_star(current)))
        if following.count() == current.count() and following.exceptAll(current).isEmpty():
            current = following
            break
        current = following
    else:
        raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
    # Converged: every component is a star around its smallest node.
    pairs = _neighbours(current)
    return pairs.groupBy("n").agg(F.least(F.min("m"), F.col("n")).alias("root")).withColumnRenamed("n", "node")


def ring_membership(strong: DataFrame, accounts: DataFrame, keep: Callable[[DataFrame], DataFrame]) -> DataFrame:
    """account_id, ring_id for every account in a ring of two or more accounts linked by the
    `strong` links (``features.rings.ring_links``), ids by the founder rule."""
    found = components(entity_edges(strong, accounts), keep)
    return found.select(
        account_of(F.col("node")).alias("account_id"),
        F.concat(F.lit(RING_PREFIX), account_of(F.col("root"))).alias("ring_id"),
    )

"""The account feature table as of an instant: every family joined, one row per account.

The table is made in three steps, each a pure function of frames and the instant ``t``:

1. ``global_context``: what pools every account's orders (campaign, region and seller context);
   small tables, the same for every subset of accounts.
2. ``per_account``: the families that need only the rows of a set of accounts (history,
   payments, sessions, context against the global tables). An engine may run this on all accounts at
   once or on any partition of them (hash buckets, Spark groups) and concatenate: the rows are
   the same.
3. ``assemble``: the steps that pool every account again (entity sharing, rings, label-derived
   figures), and the final table.

``build_features`` runs the three in one process. ``pipeline.engine`` runs step 2 by buckets;
``pipeline.spark_engine`` runs every step on Spark, calling these same family functions on the
rows of each group of keys (accounts, entities, rings, regions...).
Nothing known only after ``t`` can reach a column: every table is first cut with
``features.time.known_at`` (``point_in_time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from features.account import account
from features.catalogue import catalogue
from features.columns import Feature
from features.context import campaign_context, context, region_context, seller_context
from features.entities import account_facts, entities, entity_links, entity_stats, known_abusers
from features.history import history
from features.payments import payments
from features.rings import ring_links, ring_membership, rings
from features.sessions import sessions
from features.sources import present_sources
from features.time import Frame, as_of_end, known_at

# Bump when a column is added, removed or changes meaning: models record the version they
# were trained on, and scoring refuses a table of another shape.
FEATURE_SET_VERSION = "v2"
KEY_COLUMNS = ("account_id", "ring_id")
TABLE_NAMES = ("accounts", "orders", "payment_attempts", "sessions", "labels")


def as_of_instant(as_of: date | datetime) -> datetime:
    """A date means the end of that UTC day; a datetime is used as given (tz-aware)."""
    return as_of if isinstance(as_of, datetime) else as_of_end(as_of)


def point_in_time(tables: dict[str, Frame | None], t: datetime) -> dict[str, pl.LazyFrame | None]:
    """Lazy views of the contract tables as known at t (absent optional tables stay None).
    Lazy, so that each aggregation reads only the columns and rows it needs."""
    return {name: None if tables.get(name) is None else known_at(name, tables[name].lazy(), t) for name in TABLE_NAMES}


@dataclass(frozen=True)
class GlobalContext:
    """Step 1: the context tables that pool every account's orders."""

    campaigns: pl.DataFrame
    regions: pl.DataFrame
    sellers: pl.DataFrame


def global_context(orders: Frame) -> GlobalContext:
    return GlobalContext(campaign_context(orders), region_context(orders), seller_context(orders))


def per_account(orders: Frame, attempts: Frame, logins: Frame | None, ctx: GlobalContext, t: datetime) -> pl.DataFrame:
    """Step 2: history, payments, sessions and context columns of every account with an order,
    an attempt or a session among the given rows (which must hold all rows of each of their
    accounts)."""
    parts = [history(orders, ctx.campaigns, t), payments(attempts, t)]
    if logins is not None:
        parts.append(sessions(logins, t))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.join(part, on="account_id", how="full", coalesce=True)
    return joined.join(context(orders, ctx.campaigns, ctx.regions, ctx.sellers), on="account_id", how="left")


def assemble(view: dict[str, pl.LazyFrame | None], accounts: pl.DataFrame, per_account: pl.DataFrame, t: datetime):
    """Step 3: entity sharing and rings over every account, then the whole table: account_id,
    ring_id and every catalogue column (Float64), sorted by account_id."""
    labels = None if view["labels"] is None else view["labels"].collect()
    facts = account_facts(accounts, per_account, known_abusers(labels, accounts, t), t)
    links = entity_links(view)
    stats = entity_stats(links, facts)
    sharing = entities(links, stats, facts)
    strong = ring_links(links, stats)
    ring = rings(ring_membership(accounts, strong), facts, links, strong)
    del facts, stats, links
    return feature_table(account(accounts, t), per_account, sharing, ring, present_sources(view))


def feature_table(
    account_part: pl.DataFrame, per_account: pl.DataFrame, sharing: pl.DataFrame, ring: pl.DataFrame, known: set[str]
) -> pl.DataFrame:
    """The final table from the parts, each keyed by account_id: one row per row of
    `account_part` (``features.account.account``), account_id, ring_id and every catalogue
    column (Float64) with its fill, null where a source it needs is not in `known`
    (``features.sources.present_sources``), sorted by account_id. Row-wise per account, so an
    engine may run it on any partition of the accounts."""
    # One lazy plan for the final table, so the joins, casts and fills do not each copy a
    # million-row, two-hundred-column frame.
    table = (
        account_part.lazy()
        .join(per_account.lazy(), on="account_id", how="left")
        .join(sharing.lazy(), on="account_id", how="left")
        .join(ring.lazy(), on="account_id", how="left")
    )
    return table.select(*KEY_COLUMNS, *(_column(f, known) for f in catalogue())).sort("account_id").collect()


def _column(feature: Feature, known: set[str]) -> pl.Expr:
    """A catalogue column as Float64: its fill where an account has no rows to aggregate, and
    null for everyone when a source it needs is missing from the snapshot."""
    if not set(feature.needs) <= known:
        return pl.lit(None, dtype=pl.Float64).alias(feature.name)
    column = pl.col(feature.name).cast(pl.Float64)
    return column if feature.fill is None else column.fill_null(feature.fill)


def missing_sources(view: dict[str, pl.LazyFrame | None]) -> dict[str, list[str]]:
    """The sources the snapshot lacks, each with the feature families it leaves unknown."""
    known = present_sources(view)
    missing: dict[str, list[str]] = {}
    for f in catalogue():
        for source in f.needs:
            if source not in known:
                missing.setdefault(source, [])
                if f.family not in missing[source]:
                    missing[source].append(f.family)
    return missing


def build_features(
    accounts: Frame,
    orders: Frame,
    payment_attempts: Frame,
    sessions: Frame | None = None,
    labels: Frame | None = None,
    *,
    as_of: date | datetime,
) -> pl.DataFrame:
    """account_id, ring_id and every catalogue column (Float64) for each account registered
    before the as-of instant, in one process (frames eager or lazy)."""
    t = as_of_instant(as_of)
    given = {"accounts": accounts, "orders": orders, "payment_attempts": payment_attempts}
    view = point_in_time(given | {"sessions": sessions, "labels": labels}, t)
    ctx = global_context(view["orders"])
    parts = per_account(view["orders"], view["payment_attempts"], view["sessions"], ctx, t)
    return assemble(view, view["accounts"].collect(), parts, t)

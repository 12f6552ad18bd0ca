"""The account feature table as of an instant: every family joined, one row per account.

``build_features`` runs on whatever frames it is given: the whole snapshot in one process, or
with ``buckets=N`` the per-account families one hash bucket of accounts at a time, which bounds
the working memory of the heavy aggregations to about 1/N (the result is identical, tested).
The global steps (region, seller, campaign and e-mail-domain context, entity sharing and
rings) pool every account and run once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime

import polars as pl

from features.account import account_features, account_profile
from features.catalogue import Feature
from features.context import campaign_context, context_features, context_history, region_context, seller_context
from features.graph import (
    account_facts,
    entity_features,
    entity_links,
    entity_sharing,
    entity_stats,
    known_abusers,
    ring_features,
    ring_links,
    ring_profile,
    rings,
)
from features.history import concentration_features, history_features, order_history
from features.payments import payment_features, payment_history, per_order_features
from features.time import as_of_end, known_at

# Bump when a column is added, removed or changes meaning: models record the version they
# were trained on, and scoring refuses a table of another shape.
FEATURE_SET_VERSION = "v1"
KEY_COLUMNS = ("account_id", "ring_id")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def catalogue() -> list[Feature]:
    """Every feature column in table order (after account_id and ring_id)."""
    t = _EPOCH  # declarations do not depend on t; the expressions are discarded here
    return [
        *account_features(t),
        *history_features(t),
        *concentration_features(),
        *payment_features(t),
        *per_order_features(),
        *context_features(),
        *entity_features(),
        *ring_features(),
    ]


def feature_names() -> list[str]:
    return [f.name for f in catalogue()]


def as_of_instant(as_of: date | datetime) -> datetime:
    """A date means the end of that UTC day; a datetime is used as given (tz-aware)."""
    return as_of if isinstance(as_of, datetime) else as_of_end(as_of)


def build_features(
    accounts: pl.DataFrame,
    orders: pl.DataFrame,
    payment_attempts: pl.DataFrame,
    sessions: pl.DataFrame | None = None,
    labels: pl.DataFrame | None = None,
    *,
    as_of: date | datetime,
    buckets: int = 1,
    track: Callable[[Iterable[int], str], Iterable[int]] = lambda items, _: items,
) -> pl.DataFrame:
    """account_id, ring_id and every catalogue column (Float64) for each account registered
    before the as-of instant. Nothing known only after it can reach a column: every table is
    first cut with `known_at`."""
    t = as_of_instant(as_of)
    given = {
        "accounts": accounts,
        "orders": orders,
        "payment_attempts": payment_attempts,
        "sessions": sessions,
        "labels": labels,
    }
    # Lazy views: each aggregation below reads only the columns and rows it needs.
    view = {name: None if frame is None else known_at(name, frame.lazy(), t) for name, frame in given.items()}
    acc, ords, atts = view["accounts"].collect(), view["orders"], view["payment_attempts"]
    labels_known = None if view["labels"] is None else view["labels"].collect()

    campaigns = campaign_context(ords)
    regions, sellers = region_context(ords), seller_context(ords)
    per_account = []
    for b in track(range(buckets), "feature buckets"):
        mine = (
            (lambda f, b=b: f.filter(pl.col("account_id").hash(seed=7) % buckets == b))
            if buckets > 1
            else (lambda f: f)
        )
        o = mine(ords)
        history = order_history(o, campaigns, t)
        payments = payment_history(mine(atts), t)
        context = context_history(o, campaigns, regions, sellers)
        per_account.append(
            history.join(payments, on="account_id", how="full", coalesce=True).join(
                context, on="account_id", how="left"
            )
        )
    history = pl.concat(per_account, how="diagonal_relaxed")
    del per_account

    facts = account_facts(acc, history, known_abusers(labels_known, acc, t), t)
    links = entity_links(view)
    stats = entity_stats(links, facts)
    sharing = entity_sharing(links, stats, facts)
    strong = ring_links(links, stats)
    ring = ring_profile(rings(acc, strong), facts, links, strong)

    del facts, stats, links
    # One lazy plan for the final table, so the joins, casts and fills do not each copy a
    # million-row, two-hundred-column frame.
    table = (
        account_profile(acc, t)
        .lazy()
        .join(history.lazy(), on="account_id", how="left")
        .join(sharing.lazy(), on="account_id", how="left")
        .join(ring.lazy(), on="account_id", how="left")
    )
    features = catalogue()
    return (
        table.select(
            "account_id",
            "ring_id",
            *[
                pl.col(f.name).cast(pl.Float64).fill_null(f.fill)
                if f.fill is not None
                else pl.col(f.name).cast(pl.Float64)
                for f in features
            ],
        )
        .sort("account_id")
        .collect()
    )

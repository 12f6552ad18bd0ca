"""Execution: the feature job run by one process, whole or in hash buckets of accounts.

The feature logic is ``features.build`` (pure functions of frames and an instant). This module
decides how it runs: ``buckets=1`` computes the per-account families on every account at once;
``buckets=N`` runs them one hash bucket of accounts at a time, which bounds the working memory
of the heavy aggregations to about 1/N (the table is identical, tested), with progress shown
per bucket. The global steps run once either way.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from features.build import (
    GlobalContext,
    as_of_instant,
    assemble,
    global_context,
    missing_sources,
    per_account,
    point_in_time,
)
from pipeline.progress import track
from pipeline.snapshot import Snapshot

BUCKET_SEED = 7  # hash seed of account ids into buckets: any fixed value gives the same table


def build_local(snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date | datetime, buckets: int = 1):
    """The feature table of `snapshot` as of `as_of` (labels: the snapshot's merged with
    analysts' verdicts), per-account families in `buckets` hash buckets."""
    t = as_of_instant(as_of)
    view = point_in_time(_tables(snapshot, labels), t)
    ctx = global_context(view["orders"])
    if buckets == 1:
        parts = per_account(view["orders"], view["payment_attempts"], view["sessions"], ctx, t)
    else:
        parts = pl.concat(
            [_bucket(view, ctx, t, b, buckets) for b in track(range(buckets), "feature buckets")],
            how="diagonal_relaxed",
        )
    return assemble(view, view["accounts"].collect(), parts, t)


def unknown_families(snapshot: Snapshot, as_of: date | datetime) -> dict[str, list[str]]:
    """The sources the snapshot lacks, each with the feature families it leaves unknown (null)."""
    return missing_sources(point_in_time(_tables(snapshot, snapshot.labels), as_of_instant(as_of)))


def _tables(snapshot: Snapshot, labels: pl.DataFrame | None) -> dict:
    return {
        "accounts": snapshot.accounts,
        "orders": snapshot.orders,
        "payment_attempts": snapshot.payment_attempts,
        "sessions": snapshot.sessions,
        "labels": labels,
    }


def _bucket(view: dict, ctx: GlobalContext, t: datetime, bucket: int, buckets: int) -> pl.DataFrame:
    mine = pl.col("account_id").hash(seed=BUCKET_SEED) % buckets == bucket
    logins = None if view["sessions"] is None else view["sessions"].filter(mine)
    return per_account(view["orders"].filter(mine), view["payment_attempts"].filter(mine), logins, ctx, t)

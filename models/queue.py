"""The queue rule: which scored accounts reach the review table, in which order.

* Every scored account gets a rank in the whole run: highest score first, ties broken by
  account_id ascending, so the same scores always give the same ranks.
* The review queue is the `capacity` highest-ranked accounts that are not confirmed abusers
  (an abuse label or verdict in force): those are not queued again. Queue ranks run 1..N over
  the eligible accounts.
* Rows of the date an analyst already worked on stay in the queue whatever their new rank.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl


def ranked(scores: pl.DataFrame) -> pl.DataFrame:
    """account_id, score, rank (Int64, from 1) of every scored account, in rank order."""
    return (
        scores.sort(["score", "account_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
        .select("account_id", "score", pl.col("rank").cast(pl.Int64))
    )


def review_queue(
    ranks: pl.DataFrame, confirmed: Collection[str], kept: Collection[str], capacity: int
) -> tuple[pl.DataFrame, int]:
    """The queued rows of `ranks` (from `ranked`): account_id, score and the queue rank, in
    rank order; and how many accounts were left out as confirmed abusers.

    Queued: the first `capacity` eligible accounts (not in `confirmed`), plus any eligible
    account in `kept` (rows analysts worked on), whatever its rank."""
    eligible = ranks.filter(~pl.col("account_id").is_in(list(confirmed))).with_columns(
        rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    )
    queued = eligible.filter((pl.col("rank") <= capacity) | pl.col("account_id").is_in(list(kept)))
    return queued, ranks.height - eligible.height


def review_cut(queued: pl.DataFrame, capacity: int) -> float | None:
    """The score at which the queue was cut: the lowest score among the `queued` rows (from
    `review_queue`) ranked within `capacity`; None for an empty queue. Rows kept for analysts
    beyond the capacity do not lower it."""
    within = queued.filter(pl.col("rank") <= capacity)["score"]
    return None if within.is_empty() else float(within.min())

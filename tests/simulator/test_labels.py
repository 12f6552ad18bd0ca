"""Labels as review outcomes: late, partial, sometimes wrong; a confirmed abuser is banned."""

from __future__ import annotations

import polars as pl


def test_labels_are_late_partial_and_sometimes_wrong(market, orders) -> None:
    labels = market["labels"].join(market["truth"], on="account_id")
    abusers = market["truth"].filter("is_abuser")
    labelled = labels.filter(pl.col("is_abuser") & (pl.col("label") == "abuse"))["account_id"].n_unique()
    assert 0.25 < labelled / abusers.height < 0.5  # most abusers stay unlabelled
    wrong = labels.filter(pl.col("is_abuser") != (pl.col("label") == "abuse")).height
    assert 0.01 < wrong / labels.height < 0.08  # a few wrong verdicts ...
    assert labels.filter(~pl.col("is_abuser") & (pl.col("label") == "abuse")).height > 0  # ... in both
    assert labels.filter(pl.col("is_abuser") & (pl.col("label") == "legit")).height > 0  # directions
    # Each abuse verdict comes days after the account began: never within three days of registering.
    created = market["accounts"].select("account_id", "created_at")
    lag = (
        labels.filter(pl.col("label") == "abuse")
        .join(created, on="account_id")
        .select(pl.col("decided_at") - pl.col("created_at"))
    )
    assert (lag.to_series().dt.total_days() >= 3).all()


def test_confirmed_abusers_stop_ordering_at_their_verdict(market, orders) -> None:
    first_abuse = (
        market["labels"].filter(pl.col("label") == "abuse").group_by("account_id").agg(pl.col("decided_at").min())
    )
    later = orders.join(first_abuse, on="account_id").filter(pl.col("placed_at") >= pl.col("decided_at"))
    assert later.height == 0

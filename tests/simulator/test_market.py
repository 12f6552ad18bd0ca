"""The simulated market as a whole: deterministic for a seed, valid under the contract, truth
for every account, and no single raw column that finds the abusers."""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from pipeline.snapshot import load_snapshot
from simulator import MarketConfig, simulate_market, write_market


def test_the_same_seed_gives_the_same_market_and_another_seed_does_not() -> None:
    small = MarketConfig(accounts=500, days=20, seed=3)
    first, second = simulate_market(small), simulate_market(small)
    for name in first:
        assert_frame_equal(first[name], second[name])
    other = simulate_market(MarketConfig(accounts=500, days=20, seed=4))
    assert not other["orders"].equals(first["orders"])


def test_written_market_passes_validation_with_zero_rejects(tmp_path) -> None:
    counts = write_market(MarketConfig(accounts=2_000, days=30, seed=9), tmp_path)
    loaded = load_snapshot(tmp_path, reject_limit=0.0)
    assert loaded.rejects.height == 0
    assert {t: c["rows"] for t, c in loaded.counts.items()} == {t: n for t, n in counts.items() if t != "truth"}
    assert (tmp_path / "truth.parquet").exists()


def test_no_single_column_separates_abusers(market) -> None:
    """Per account, one statistic of one raw column, thresholded: precision among the top-k
    (k = abusers) stays low. Rings and combinations are what the model must learn."""
    o = market["orders"]
    stats = o.group_by("account_id").agg(
        orders=pl.len(),
        cancelled=pl.col("cancelled_at").is_not_null().mean(),
        buyer=(pl.col("cancel_initiator") == "buyer").fill_null(False).sum(),
        discount=pl.col("discount_usd").mean(),
        campaign=pl.col("campaign_id").is_not_null().mean(),
        unpaid=pl.col("paid_at").is_null().mean(),
        amount=pl.col("amount_usd").mean(),
        devices=pl.col("device_id").n_unique(),
    )
    attempts = (
        market["payment_attempts"]
        .group_by("account_id")
        .agg(failed=(~pl.col("succeeded")).sum(), cards=pl.col("instrument_id").n_unique())
    )
    frame = (
        market["truth"]
        .join(stats, on="account_id", how="left")
        .join(attempts, on="account_id", how="left")
        .fill_null(0)
    )
    y = frame["is_abuser"].to_numpy()
    k = int(y.sum())
    for column in (
        "orders",
        "cancelled",
        "buyer",
        "discount",
        "campaign",
        "unpaid",
        "amount",
        "devices",
        "failed",
        "cards",
    ):
        values = frame[column].cast(pl.Float64).to_numpy()
        for direction in (1, -1):
            top = np.lexsort((np.arange(len(values)), -direction * values))[:k]
            assert y[top].mean() < 0.5, f"{column} alone finds abusers with precision {y[top].mean():.2f}"


def test_ground_truth_covers_every_account(market) -> None:
    truth = market["truth"]
    assert truth.columns[:3] == ["account_id", "is_abuser", "pattern"]
    assert truth["account_id"].sort().equals(market["accounts"]["account_id"].sort())

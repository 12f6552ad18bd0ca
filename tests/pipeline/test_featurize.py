"""The features job: whole in memory, or out of core in hash buckets, gives the same table."""

from __future__ import annotations

from datetime import date

import polars as pl
from polars.testing import assert_frame_equal

from pipeline.featurize import write_features
from pipeline.snapshot import load_snapshot
from simulator import MarketConfig, write_market


def test_out_of_core_buckets_give_the_same_table_and_leave_no_spill(tmp_path) -> None:
    data = tmp_path / "market"
    write_market(MarketConfig(accounts=800, days=30, seed=6), data)
    out = tmp_path / "features"
    as_of = date(2026, 1, 25)

    whole = write_features(data, as_of, out / "whole.parquet")
    bucketed = write_features(data, as_of, out / "bucketed.parquet", buckets=3)

    assert_frame_equal(whole, bucketed)
    assert_frame_equal(pl.read_parquet(out / "bucketed.parquet"), whole)
    registered = pl.read_parquet(data / "accounts.parquet").filter(
        pl.col("created_at") < pl.datetime(2026, 1, 26, time_zone="UTC")
    )
    assert whole.columns[:2] == ["account_id", "ring_id"] and whole.height == registered.height
    assert sorted(p.name for p in out.iterdir()) == [
        "bucketed.parquet",
        "bucketed.rejects.parquet",
        "whole.parquet",
        "whole.rejects.parquet",
    ]


def test_spilled_snapshot_holds_the_same_valid_rows_as_scans(tmp_path) -> None:
    data = tmp_path / "market"
    write_market(MarketConfig(accounts=300, days=20, seed=7), data)
    in_memory = load_snapshot(data).snapshot
    spilled = load_snapshot(data, spill=tmp_path / "spill").snapshot
    for name in ("accounts", "orders", "payment_attempts", "sessions", "labels"):
        assert isinstance(getattr(spilled, name), pl.LazyFrame)
        assert_frame_equal(getattr(spilled, name).collect(), getattr(in_memory, name))

"""The simulator: deterministic, valid under the contract, and with the proportions
docs/simulator.md documents (measured on a 20,000-account, 90-day market)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.simulate import ABUSE, SHARES, MarketConfig, simulate_market, write_market
from pipeline.snapshot import load_snapshot

CONFIG = MarketConfig(accounts=20_000, days=90, seed=5)


@pytest.fixture(scope="module")
def market() -> dict[str, pl.DataFrame]:
    return simulate_market(CONFIG)


@pytest.fixture(scope="module")
def orders(market) -> pl.DataFrame:
    return market["orders"].join(market["truth"], on="account_id")


def share(frame: pl.DataFrame, mask: pl.Expr) -> float:
    return frame.select(mask.fill_null(False).mean()).item()


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


def test_pattern_shares_match_the_declared_shares(market) -> None:
    truth = market["truth"]
    counts = dict(truth.group_by("pattern").len().iter_rows())
    for pattern, (declared, _, _) in SHARES.items():
        assert counts[pattern] == round(declared * CONFIG.accounts), pattern
    assert truth["is_abuser"].mean() == pytest.approx(0.035, abs=0.001)
    assert set(truth.filter("is_abuser")["pattern"].unique()) == set(ABUSE)


def test_logistics_failures_concentrate_in_remote_regions(orders) -> None:
    shipped = orders.filter(pl.col("shipped_at").is_not_null())
    remote = pl.col("ship_region").str.slice(-2).is_in(["09", "10"])
    logistics = pl.col("cancel_initiator") == "logistics"
    remote_rate, other_rate = share(shipped.filter(remote), logistics), share(shipped.filter(~remote), logistics)
    assert 0.2 < remote_rate < 0.45 and other_rate < 0.07 and remote_rate > 5 * other_rate


def test_customs_holds_concentrate_in_some_destination_countries(orders) -> None:
    shipped = orders.filter(pl.col("shipped_at").is_not_null())
    customs = shipped.group_by("ship_country").agg(
        (pl.col("cancel_reason") == "customs_hold").fill_null(False).mean().alias("r")
    )
    rate = dict(customs.iter_rows())
    assert min(rate["NG"], rate["BR"], rate["IN"]) > 2.5 * max(rate["US"], rate["GB"]), rate


def test_stock_outs_concentrate_in_flash_sales(orders) -> None:
    paid = orders.filter(pl.col("paid_at").is_not_null())
    flash = pl.col("campaign_id").str.starts_with("flash").fill_null(False)
    seller = pl.col("cancel_initiator") == "seller"
    assert share(paid.filter(flash), seller) > 0.25
    assert share(paid.filter(~flash), seller) < 0.04


def test_every_cause_of_cancellation_occurs_with_its_reasons(orders) -> None:
    reasons = dict(orders.group_by("cancel_initiator").agg(pl.col("cancel_reason").unique()).drop_nulls().iter_rows())
    assert {"customs_hold", "undeliverable_address", "no_carrier_coverage"} <= set(reasons["logistics"])
    assert {"payment_failed", "payment_timeout"} <= set(reasons["payment"])
    assert "out_of_stock" in reasons["seller"]
    assert {"changed_mind", "found_cheaper"} <= set(reasons["buyer"])
    mix = dict(orders.filter(pl.col("cancelled_at").is_not_null()).group_by("cancel_initiator").len().iter_rows())
    total = sum(mix.values())
    assert 0.4 < mix["buyer"] / total < 0.7  # most cancels are buyers', the rest spread over other causes
    assert all(mix[who] / total > 0.005 for who in ("seller", "logistics", "payment", "platform"))


def test_honest_buyers_also_discount_fail_payments_and_cancel_fast(market, orders) -> None:
    honest = orders.filter(~pl.col("is_abuser"))
    assert share(honest, pl.col("discount_usd") > 0) > 0.3
    attempts = market["payment_attempts"].join(market["truth"], on="account_id").filter(~pl.col("is_abuser"))
    failed_accounts = attempts.filter(~pl.col("succeeded"))["account_id"].n_unique()
    assert failed_accounts / market["truth"].filter(~pl.col("is_abuser")).height > 0.2
    fast = (pl.col("cancel_initiator") == "buyer") & (
        (pl.col("cancelled_at") - pl.col("placed_at")) < pl.duration(minutes=10)
    )
    assert honest.filter(fast)["account_id"].n_unique() > 1000


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


def test_ground_truth_covers_every_account(market) -> None:
    truth = market["truth"]
    assert truth.columns[:3] == ["account_id", "is_abuser", "pattern"]
    assert truth["account_id"].sort().equals(market["accounts"]["account_id"].sort())

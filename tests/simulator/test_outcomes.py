"""Order outcomes: benign causes of cancellation where docs/simulator.md says they concentrate,
and honest buyers who also discount, fail payments and cancel fast."""

from __future__ import annotations

import polars as pl
from sim_market import share


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

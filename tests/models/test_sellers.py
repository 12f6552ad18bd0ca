"""models.sellers: the counting rules of the seller exposure table, on frames written by hand.

Every order below is placed a day before T (the end of --as-of 2026-03-31) at seller s1, for item
i1, unless the test says otherwise; a test names only what it is about.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import count

import polars as pl
import pytest

from contract.outputs import SELLER_CANCELS, SELLER_EXPOSURE
from contract.tables import polars_schema
from models.queue import review_cut
from models.sellers import WINDOW, cancellations, seller_exposure, seller_page, suspects, window_orders

T = datetime(2026, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
NO_SCORES = pl.DataFrame(schema={"account_id": pl.String, "score": pl.Float64})
NO_RINGS = pl.DataFrame(schema={"account_id": pl.String, "ring_id": pl.String})


def orders(*rows: dict) -> pl.DataFrame:
    """Orders o1, o2, ... with every contract column; `cancelled_by` is a shorthand for a
    cancellation an hour after placing, before payment."""
    n = count(1)
    schema = polars_schema("orders")
    filled = []
    for row in rows:
        row = dict(row)
        placed = row.setdefault("placed_at", T - DAY)
        if "cancelled_by" in row:
            row["cancel_initiator"] = row.pop("cancelled_by")
            row.setdefault("cancelled_at", placed + HOUR)
        defaults = dict(
            order_id=f"o{next(n)}",
            account_id="a",
            seller_id="s1",
            item_id="i1",
            amount_usd=20.0,
            discount_usd=0.0,
            item_count=1,
            ship_country="DE",
        )
        filled.append({c: {**defaults, **row}.get(c) for c in schema})
    return pl.DataFrame(filled, schema=schema)


def labels(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"account_id": a, "label": label, "decided_at": at, "source": "review"} for a, label, at in rows],
        schema=polars_schema("labels"),
    )


def exposure(
    order_rows: pl.DataFrame,
    label_rows: pl.DataFrame | None = None,
    queued: tuple[str, ...] = (),
    scores: pl.DataFrame = NO_SCORES,
    cut: float | None = None,
    rings: pl.DataFrame = NO_RINGS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(cancellations, exposure) as the nightly run computes them at T."""
    window = window_orders(order_rows, T)
    cancels = cancellations(window, suspects(label_rows, queued, scores, cut, T), rings)
    return cancels, seller_exposure(window, cancels)


def row(table: pl.DataFrame, seller: str = "s1") -> dict:
    return table.filter(pl.col("seller_id") == seller).to_dicts()[0]


def test_an_order_cancelled_by_a_confirmed_abuser_counts_and_one_cancelled_by_a_carrier_does_not():
    cancels, out = exposure(
        orders(
            dict(account_id="x", cancelled_by="buyer"),
            dict(
                account_id="x",
                paid_at=T - DAY + HOUR,
                shipped_at=T - DAY + 2 * HOUR,
                cancelled_at=T - DAY + 3 * HOUR,
                cancel_initiator="logistics",
            ),
            dict(account_id="h"),
            dict(account_id="h"),
        ),
        labels(("x", "abuse", T - 5 * DAY)),
    )
    s1 = row(out)
    assert (s1["orders"], s1["cancellations"], s1["abuse_cancels"], s1["abuse_cancels_confirmed"]) == (4, 2, 1, 1)
    assert (s1["cancelled_by_buyer"], s1["cancelled_by_logistics"]) == (1, 1)
    assert (s1["cancelled_before_payment"], s1["cancelled_after_shipment"]) == (1, 1)
    assert s1["cancel_rate"] == pytest.approx(2 / 4)
    assert s1["corrected_cancel_rate"] == pytest.approx(1 / 3)  # the abuse-driven order as never placed
    assert cancels.sort("order_id")["cause"].to_list() == ["abuse", "logistics"]
    assert cancels.columns == [c.name for c in SELLER_CANCELS]
    assert out.columns == [c.name for c in SELLER_EXPOSURE if c.name != "as_of"]


@pytest.mark.parametrize(
    ("decided_at", "counts"),
    [
        (T - timedelta(microseconds=1), 1),  # decided before the end of the as-of day: in force
        (T, 0),  # at the as-of instant: not yet known
        (T + 3 * DAY, 0),  # confirmed later: the run did not know
    ],
)
def test_a_buyer_confirmed_after_the_as_of_does_not_count(decided_at, counts):
    _, out = exposure(orders(dict(account_id="x", cancelled_by="buyer")), labels(("x", "abuse", decided_at)))
    assert row(out)["abuse_cancels"] == row(out)["abuse_cancels_confirmed"] == counts


def test_a_buyer_cleared_before_the_as_of_is_no_suspect_whatever_the_score():
    label_rows = labels(("x", "abuse", T - 9 * DAY), ("x", "legit", T - 2 * DAY), ("y", "legit", T - 2 * DAY))
    scores = pl.DataFrame({"account_id": ["x", "y"], "score": [0.99, 0.98]})
    found = suspects(label_rows, queued=["y"], scores=scores, cut=0.5, t=T)
    assert found.height == 0


def test_queued_and_above_the_cut_buyers_count_and_a_score_below_the_cut_does_not():
    queue = pl.DataFrame({"account_id": ["q", "r"], "score": [0.9, 0.7], "rank": [1, 2]})
    scores = pl.DataFrame({"account_id": ["q", "r", "hi", "lo"], "score": [0.9, 0.7, 0.8, 0.69]})
    cut = review_cut(queue, capacity=2)
    assert cut == 0.7
    _, out = exposure(
        orders(*(dict(account_id=a, cancelled_by="buyer") for a in ("q", "hi", "lo"))),
        queued=("q", "r"),
        scores=scores,
        cut=cut,
    )
    s1 = row(out)
    assert (s1["abuse_cancels"], s1["abuse_cancels_queued"], s1["abuse_cancels_above_cut"]) == (2, 1, 2)
    assert s1["suspect_buyers"] == 2


def test_unpaid_orders_of_a_suspect_count_but_stock_outs_and_platform_holds_do_not():
    paid = dict(account_id="x", paid_at=T - DAY + HOUR, cancelled_at=T - DAY + 2 * HOUR)
    cancels, out = exposure(
        orders(
            dict(account_id="x", cancelled_by="payment", cancel_reason="payment_timeout"),
            dict(paid, cancel_initiator="seller"),
            dict(paid, cancel_initiator="platform"),
        ),
        labels(("x", "abuse", T - DAY)),
    )
    assert row(out)["abuse_cancels"] == 1
    assert cancels.sort("order_id")["cause"].to_list() == ["abuse", "seller", "platform"]


def test_the_window_holds_orders_placed_in_it_in_their_state_known_at_the_as_of():
    cancels, out = exposure(
        orders(
            dict(account_id="x", placed_at=T - WINDOW - HOUR, cancelled_by="buyer"),  # placed before the window
            dict(account_id="x", placed_at=T - HOUR, cancelled_at=T + HOUR, cancel_initiator="buyer"),  # not yet
            dict(account_id="x", placed_at=T - WINDOW, cancelled_by="buyer"),  # the window's first instant
        ),
        labels(("x", "abuse", T - 40 * DAY)),
    )
    assert cancels["order_id"].to_list() == ["o3"]
    assert (row(out)["orders"], row(out)["cancellations"], row(out)["abuse_cancels"]) == (2, 1, 1)


def test_a_seller_without_cancellations_has_no_row():
    _, out = exposure(orders(dict(seller_id="s1", cancelled_by="buyer"), dict(seller_id="s2")))
    assert out["seller_id"].to_list() == ["s1"]
    assert row(out)["target_rank"] is None and row(out)["target_score"] == 0.0


def test_rates_carry_a_wilson_interval_and_the_corrected_rate_is_null_when_every_order_was_abuse():
    _, out = exposure(
        orders(
            dict(account_id="x", seller_id="s1", cancelled_by="buyer"),
            dict(account_id="h", seller_id="s2", cancelled_by="buyer"),
            dict(account_id="h", seller_id="s2"),
        ),
        labels(("x", "abuse", T - DAY)),
    )
    s2 = row(out, "s2")
    # statsmodels' Wilson interval for 1 in 2 at 95%: wide, as a seller with two orders deserves.
    assert (s2["cancel_rate_low"], s2["cancel_rate_high"]) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    s1 = row(out, "s1")
    assert s1["cancel_rate"] == 1.0 and s1["cancel_rate_low"] > 0.2 and s1["cancel_rate_high"] == pytest.approx(1)
    assert s1["corrected_cancel_rate"] is None and s1["corrected_rate_low"] is None


def test_the_flash_share_counts_the_items_of_flash_sale_orders_that_suspects_cancelled():
    sale = dict(campaign_id="flash1", placed_at=T - 2 * DAY)
    _, out = exposure(
        orders(
            dict(sale, account_id="x", item_count=3, cancelled_by="buyer"),
            dict(sale, account_id="h", item_count=1, cancelled_by="buyer"),
            dict(sale, account_id="h", item_count=4, placed_at=T - 2 * DAY + HOUR),
            dict(account_id="x", item_count=5, cancelled_by="buyer"),  # not in the flash sale
        ),
        labels(("x", "abuse", T - 3 * DAY)),
    )
    s1 = row(out)
    assert (s1["flash_units"], s1["flash_units_abused"]) == (8, 3)
    assert s1["flash_abused_share"] == pytest.approx(3 / 8)


def test_a_group_aiming_at_one_seller_outranks_a_ring_spread_over_many_with_reasons():
    spread = [dict(account_id=f"r{i}", seller_id=f"s{i}", cancelled_by="buyer") for i in range(1, 7)]
    spread += [dict(account_id="r1", seller_id="s1", cancelled_by="buyer", item_id="i2")]
    aimed = [dict(account_id="x", seller_id="s9", item_id=f"i{i % 2}", cancelled_by="buyer") for i in range(3)]
    rings = pl.DataFrame({"account_id": [f"r{i}" for i in range(1, 7)], "ring_id": "R1"})
    label_rows = labels(*((a, "abuse", T - DAY) for a in ["x", *rings["account_id"]]))
    _, out = exposure(orders(*spread, *aimed), label_rows, rings=rings)

    assert out["seller_id"].to_list()[:2] == ["s9", "s1"]
    assert out["target_rank"].to_list() == list(range(1, 8))
    s9, s1 = row(out, "s9"), row(out, "s1")
    assert s9["target_score"] == pytest.approx(3 * 3 / 3)  # all of the account's cancellations
    assert s1["target_score"] == pytest.approx(2 * 2 / 7)  # 2 of the ring's 7
    (why,) = json.loads(s9["reasons"])
    assert (why["ring_id"], why["accounts"], why["orders"], why["basis"]) == (None, ["x"], 3, "confirmed")
    assert why["items"] == [{"item_id": "i0", "orders": 2}, {"item_id": "i1", "orders": 1}]
    assert "account x" in why["text"] and "3 orders" in why["text"]
    (ring,) = json.loads(s1["reasons"])
    assert (ring["ring_id"], ring["accounts"], ring["orders"]) == ("R1", ["r1"], 2)
    assert s1["suspect_rings"] == 1


def test_a_sellers_page_splits_its_cancellations_by_day_and_cause():
    cancels, _ = exposure(
        orders(
            dict(account_id="x", cancelled_by="buyer"),
            dict(account_id="x", cancelled_by="buyer", placed_at=T - 3 * DAY),
            dict(account_id="h", cancelled_by="seller"),
        ),
        labels(("x", "abuse", T - 5 * DAY)),
    )
    page = seller_page(cancels, "s1")
    day = (T - DAY).date()
    assert page["timeline"].rows() == [((T - 3 * DAY).date(), "abuse", 1), (day, "abuse", 1), (day, "seller", 1)]
    assert page["accounts"].select("account_id", "abuse_cancels").rows() == [("x", 2), ("h", 0)]
    assert seller_page(cancels, "nobody")["timeline"].is_empty()

"""features.history.history: what each order-history column counts, on orders written by hand.

Every test runs the history the way the feature job does (orders cut at t with known_at, campaigns
from the cut orders) and names the exact value; smoothed rates are (k + 4 * prior) / (n + 4).
"""

from __future__ import annotations

import pytest
from feature_frames import DAY, HOUR, MIN, SEC, US, T, buyer_cancel, history_at, orders, utc

from contract.values import CANCEL_INITIATORS as INITIATORS
from features.history import BUYER_CANCEL_PRIOR, CANCEL_PRIOR
from features.time import WINDOWS

# -- cancellations by cause and stage ----------------------------------------------------------


def cancelled_orders():
    """Eight orders of one buyer, one of each kind of ending; o8 is ten days old, the rest recent."""
    return orders(
        dict(
            order_id="o1", placed_at=T - 2 * DAY, paid_at=T - 2 * DAY + HOUR, shipped_at=T - DAY, delivered_at=T - HOUR
        ),  # delivered
        buyer_cancel(T - 2 * DAY, 30 * MIN, order_id="o2"),  # buyer, before payment
        dict(
            order_id="o3",
            placed_at=T - 2 * DAY,
            paid_at=T - 2 * DAY + HOUR,
            cancelled_at=T - 2 * DAY + 3 * HOUR,
            cancel_initiator="buyer",
            cancel_reason="found_cheaper",
        ),  # buyer, after payment, before shipment
        dict(
            order_id="o4",
            placed_at=T - 3 * DAY,
            paid_at=T - 3 * DAY + HOUR,
            shipped_at=T - 2 * DAY,
            cancelled_at=T - DAY,
            cancel_initiator="buyer",
            cancel_reason="changed_mind",
        ),  # buyer refusal
        dict(
            order_id="o5",
            placed_at=T - 2 * DAY,
            paid_at=T - 2 * DAY + HOUR,
            cancelled_at=T - 2 * DAY + 2 * HOUR,
            cancel_initiator="seller",
            cancel_reason="out_of_stock",
        ),
        dict(
            order_id="o6",
            placed_at=T - 2 * DAY,
            cancelled_at=T - 2 * DAY + HOUR,
            cancel_initiator="payment",
            cancel_reason="payment_timeout",
        ),
        dict(
            order_id="o7",
            placed_at=T - 5 * DAY,
            paid_at=T - 5 * DAY,
            shipped_at=T - 4 * DAY,
            cancelled_at=T - 2 * DAY,
            cancel_initiator="logistics",
            cancel_reason="customs_hold",
        ),
        dict(
            order_id="o8",
            placed_at=T - 10 * DAY,
            cancelled_at=T - 10 * DAY + HOUR,
            cancel_initiator="platform",
            cancel_reason="policy",
        ),
    )


def test_cancellations_by_initiator_and_stage():
    a = history_at(cancelled_orders())["a"]
    lifetime = {
        k: a[f"{k}_lifetime"]
        for k in (
            "orders",
            "cancels",
            *(f"{who}_cancels" for who in INITIATORS),
            "buyer_cancels_before_payment",
            "buyer_cancels_after_payment",
            "buyer_cancels_after_shipment",
            "unpaid_timeouts",
            "fast_buyer_cancels",
        )
    }
    assert lifetime == {
        "orders": 8,
        "cancels": 7,
        "buyer_cancels": 3,
        "seller_cancels": 1,
        "logistics_cancels": 1,
        "payment_cancels": 1,
        "platform_cancels": 1,
        "buyer_cancels_before_payment": 1,
        "buyer_cancels_after_payment": 1,
        "buyer_cancels_after_shipment": 1,
        "unpaid_timeouts": 1,
        "fast_buyer_cancels": 0,  # o2 took 30 minutes, o3 two hours after payment
    }
    # o8 (platform) is ten days old: in 30d, not in 7d; nothing was placed in the last day
    assert (a["orders_7d"], a["cancels_7d"], a["platform_cancels_7d"], a["platform_cancels_30d"]) == (7, 6, 0, 1)
    assert (a["orders_1d"], a["cancels_1d"], a["buyer_cancels_1d"]) == (0, 0, 0)


def test_smoothed_cancel_rates():
    a = history_at(cancelled_orders())["a"]
    assert a["buyer_cancel_rate_lifetime"] == pytest.approx((3 + 4 * BUYER_CANCEL_PRIOR) / (8 + 4))  # 0.2767
    assert a["cancel_rate_lifetime"] == pytest.approx((7 + 4 * CANCEL_PRIOR) / (8 + 4))  # 0.6433
    assert a["buyer_cancel_rate_7d"] == pytest.approx((3 + 0.32) / (7 + 4))
    # no order in the last day: the rate is its prior, not 0/0
    assert a["buyer_cancel_rate_1d"] == pytest.approx(BUYER_CANCEL_PRIOR)
    assert a["cancel_rate_1d"] == pytest.approx(CANCEL_PRIOR)


def test_the_priors():
    assert (BUYER_CANCEL_PRIOR, CANCEL_PRIOR) == (0.08, 0.18)


@pytest.mark.parametrize(
    ("states", "stage"),
    [
        (dict(), "before_payment"),
        (dict(paid_at=T - 2 * DAY + HOUR - US), "after_payment"),
        (dict(paid_at=T - 2 * DAY + HOUR), "after_payment"),  # paid and cancelled in the same instant
        (dict(paid_at=T - 2 * DAY + MIN, shipped_at=T - 2 * DAY + HOUR), "after_shipment"),  # same instant
        (dict(paid_at=T - 2 * DAY + MIN, shipped_at=T - 2 * DAY + HOUR + US), "after_payment"),  # ships after
    ],
    ids=["unpaid", "paid-1us-before", "paid-same-instant", "shipped-same-instant", "shipped-after-cancel"],
)
def test_the_stage_of_a_buyer_cancel_is_what_was_reached_by_the_cancel(states, stage):
    a = history_at(orders(buyer_cancel(T - 2 * DAY, HOUR, **states)))["a"]
    got = {s: a[f"buyer_cancels_{s}_lifetime"] for s in ("before_payment", "after_payment", "after_shipment")}
    assert got == {s: int(s == stage) for s in got}


def test_a_cancel_not_yet_known_at_t_is_not_counted():
    # placed before t, cancelled exactly at t: at t it is an open order
    a = history_at(orders(buyer_cancel(T - DAY, DAY)))["a"]
    assert (a["orders_lifetime"], a["cancels_lifetime"], a["buyer_cancels_lifetime"]) == (1, 0, 0)
    assert a["buyer_cancels_before_payment_1d"] == 0


# -- fast cancels and timing -------------------------------------------------------------------

P = T - 3 * DAY  # placement time of the orders below


@pytest.mark.parametrize(
    ("order", "fast"),
    [
        (buyer_cancel(P, 9 * MIN), 1),
        (buyer_cancel(P, 10 * MIN), 1),  # "within 10 minutes" includes the tenth
        (buyer_cancel(P, 11 * MIN), 0),
        # paid an hour after placing: the clock starts at the payment
        (buyer_cancel(P, HOUR + 9 * MIN, paid_at=P + HOUR), 1),
        (buyer_cancel(P, HOUR + 11 * MIN, paid_at=P + HOUR), 0),
        (buyer_cancel(P, MIN, cancel_initiator="seller", cancel_reason="out_of_stock"), 0),  # buyers only
    ],
    ids=["9min", "10min", "11min", "9min-after-paying", "11min-after-paying", "seller-1min"],
)
def test_fast_buyer_cancels(order, fast):
    a = history_at(orders(order))["a"]
    assert (a["fast_buyer_cancels_lifetime"], a["fast_buyer_cancels_7d"], a["fast_buyer_cancels_1d"]) == (fast, fast, 0)


def test_a_cancel_one_microsecond_past_ten_minutes_is_not_fast():
    a = history_at(orders(buyer_cancel(P, 10 * MIN + US)))["a"]
    assert a["fast_buyer_cancels_lifetime"] == 0


def test_minutes_to_a_buyer_cancel():
    given = orders(
        buyer_cancel(T - 2 * DAY, 5 * MIN),
        buyer_cancel(T - 2 * DAY, 80 * MIN, paid_at=T - 2 * DAY + HOUR),  # 20 minutes after paying
        buyer_cancel(T - 2 * DAY, 60 * MIN),
        buyer_cancel(T - 40 * DAY, 1000 * MIN),  # outside 30d
        dict(
            placed_at=T - 2 * DAY,
            cancelled_at=T - 2 * DAY + SEC,
            cancel_initiator="seller",
            cancel_reason="out_of_stock",
        ),  # not a buyer cancel: no minutes
    )
    a = history_at(given)["a"]
    assert a["buyer_cancel_minutes_median_30d"] == 20.0  # of 5, 20, 60
    assert a["buyer_cancel_minutes_median_lifetime"] == 40.0  # of 5, 20, 60, 1000
    assert a["buyer_cancel_minutes_p10_lifetime"] == pytest.approx(9.5)  # 5 + 0.3 * (20 - 5)
    # one fast (5 min) of four buyer cancels, prior 0.2
    assert a["fast_buyer_cancel_share_lifetime"] == pytest.approx((1 + 0.8) / (4 + 4))


def test_no_buyer_cancel_means_no_minutes():
    a = history_at(orders(dict()))["a"]
    assert (a["buyer_cancel_minutes_median_lifetime"], a["buyer_cancel_minutes_p10_lifetime"]) == (None, None)
    assert a["fast_buyer_cancel_share_lifetime"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("order", "timeouts"),
    [
        (dict(cancelled_at=T - HOUR, cancel_initiator="payment", cancel_reason="payment_timeout"), 1),
        (dict(cancelled_at=T - HOUR, cancel_initiator="payment", cancel_reason="card_declined"), 0),
        (dict(cancelled_at=T, cancel_initiator="payment", cancel_reason="payment_timeout"), 0),  # not known at t
    ],
)
def test_unpaid_timeouts(order, timeouts):
    a = history_at(orders(dict(placed_at=T - 2 * DAY, **order)))["a"]
    assert a["unpaid_timeouts_lifetime"] == timeouts


# -- campaigns, flash sales, discounts ---------------------------------------------------------

F, L = T - 20 * DAY, T - 60 * DAY  # first orders of campaign F (a flash sale) and L (a long one)


def campaign_orders():
    """F: five orders within two hours (flash); L: three orders a day apart (not flash).
    Buyer a: F at its first minute (early, cancelled, $15 off), F at +6 min (late), L a day in
    (cancelled, $5 off), and an order outside any campaign (cancelled, $7 off). b places the rest."""
    return orders(
        buyer_cancel(F, HOUR, campaign_id="F", amount_usd=85.0, discount_usd=15.0),
        dict(placed_at=F + 6 * MIN, campaign_id="F"),
        buyer_cancel(L + DAY, HOUR, campaign_id="L", amount_usd=15.0, discount_usd=5.0),
        buyer_cancel(T - DAY, HOUR, amount_usd=13.0, discount_usd=7.0),
        *[dict(account_id="b", placed_at=F + d, campaign_id="F") for d in (5 * MIN, HOUR, 2 * HOUR)],
        *[dict(account_id="b", placed_at=L + d, campaign_id="L") for d in (0 * DAY, 2 * DAY)],
    )


def test_campaign_flash_and_early_orders():
    h = history_at(campaign_orders())
    a, b = h["a"], h["b"]
    assert {
        k: a[f"{k}_lifetime"] for k in ("campaign_orders", "campaign_cancels", "flash_orders", "early_campaign_orders")
    } == {
        "campaign_orders": 3,
        "campaign_cancels": 2,  # F early and L, both buyer-cancelled; the non-campaign cancel is not one
        "flash_orders": 2,  # both F orders
        "early_campaign_orders": 1,  # F at +0; F at +6 min is late; L at +1 day is late
    }
    assert a["discount_on_buyer_cancels_usd_lifetime"] == 27.0  # 15 + 5 + 7
    assert a["discount_on_buyer_cancels_usd_1d"] == 7.0
    assert a["discount_on_buyer_cancels_usd_30d"] == 22.0  # the L order is 59 days old
    assert (a["campaign_orders_30d"], a["flash_orders_30d"], a["campaign_orders_1d"]) == (2, 2, 0)
    assert a["early_campaign_share_lifetime"] == pytest.approx((1 + 4 * 0.05) / (3 + 4))
    # b: F at +5 min exactly is early, so is L's first order; +1 h, +2 h and L +2 days are not
    assert (b["campaign_orders_lifetime"], b["flash_orders_lifetime"], b["early_campaign_orders_lifetime"]) == (5, 3, 2)
    assert b["discount_on_buyer_cancels_usd_lifetime"] == 0.0
    # list prices (amount + discount) 100, 20, 20, 20 with discounts 15, 0, 5, 7: shares .15, 0, .25, .35
    assert a["discount_share_mean_lifetime"] == pytest.approx((0.15 + 0 + 0.25 + 0.35) / 4)
    assert a["order_usd_mean_lifetime"] == pytest.approx((85 + 20 + 15 + 13) / 4)


@pytest.mark.parametrize(("after", "early"), [(5 * MIN - US, 1), (5 * MIN, 1), (5 * MIN + SEC, 0)])
def test_early_means_within_five_minutes_of_the_campaigns_first_order(after, early):
    given = orders(dict(account_id="first", placed_at=F, campaign_id="C"), dict(placed_at=F + after, campaign_id="C"))
    assert history_at(given)["a"]["early_campaign_orders_lifetime"] == early


def test_an_order_one_microsecond_past_five_minutes_is_not_early():
    given = orders(
        dict(account_id="first", placed_at=F, campaign_id="C"), dict(placed_at=F + 5 * MIN + US, campaign_id="C")
    )
    assert history_at(given)["a"]["early_campaign_orders_lifetime"] == 0


@pytest.mark.parametrize(("ninth", "flash"), [(6 * HOUR - US, 1), (6 * HOUR, 0)], ids=["p90-under-6h", "p90-at-6h"])
def test_a_flash_sale_is_a_campaign_whose_first_90_percent_of_orders_span_under_six_hours(ninth, flash):
    # eleven orders: the 90th percentile (linear) is exactly the tenth, whatever the straggler days later
    times = [F + k * MIN for k in range(9)] + [F + ninth, F + 5 * DAY]
    given = orders(*[dict(account_id=f"b{k}", placed_at=at, campaign_id="C") for k, at in enumerate(times)])
    h = history_at(given)
    assert [h[f"b{k}"]["flash_orders_lifetime"] for k in range(11)] == [flash] * 11


# -- sellers, items and concentration ----------------------------------------------------------


def test_repeat_cancellations_and_seller_concentration():
    given = orders(
        *[buyer_cancel(T - d * DAY, HOUR, seller_id="s1", item_id="i1") for d in (2, 3, 4)],
        buyer_cancel(T - 5 * DAY, HOUR, seller_id="s1", item_id="i2"),
        buyer_cancel(T - 5 * DAY, HOUR, seller_id="s2", item_id="i3"),
        dict(placed_at=T - 6 * DAY, seller_id="s3", item_id="i4"),
        dict(account_id="b", seller_id="s1", item_id="i1"),  # b never cancels
        dict(account_id="b", seller_id="s2", item_id="i3"),
    )
    h = history_at(given)
    a, b = h["a"], h["b"]
    assert a["max_buyer_cancels_same_item_lifetime"] == 3  # i1
    assert a["max_buyer_cancels_same_seller_lifetime"] == 4  # s1: i1 x3, i2
    assert a["buyer_cancel_top_seller_share_lifetime"] == pytest.approx((4 + 1) / (5 + 2))
    assert a["buyer_cancel_seller_hhi_lifetime"] == pytest.approx((4 / 5) ** 2 + (1 / 5) ** 2)  # 0.68
    assert a["orders_top_seller_share_lifetime"] == pytest.approx(4 / 6)  # s1 has 4 of 6 orders
    assert (a["distinct_sellers_lifetime"], a["distinct_items_lifetime"]) == (3, 4)
    # no buyer cancel: nothing to concentrate (build_features fills 0 and the 0.5 prior)
    assert [
        b[k]
        for k in (
            "max_buyer_cancels_same_item_lifetime",
            "max_buyer_cancels_same_seller_lifetime",
            "buyer_cancel_top_seller_share_lifetime",
            "buyer_cancel_seller_hhi_lifetime",
        )
    ] == [None] * 4
    assert b["orders_top_seller_share_lifetime"] == 0.5


def test_bursts_are_counted_in_clock_hours_and_utc_days():
    d = T - 40 * DAY  # a midnight outside 30d
    given = orders(
        # 10:00 and 10:59:59.999999 share a clock hour; 11:00, 11:30, 11:45 share the next one
        # (a rolling hour from 10:59:59 would hold four)
        *[
            dict(placed_at=d + at)
            for at in (10 * HOUR, 11 * HOUR - US, 11 * HOUR, 11 * HOUR + 30 * MIN, 11 * HOUR + 45 * MIN)
        ],
        dict(placed_at=d + DAY),  # midnight starts a new day
        *[dict(placed_at=T - 2 * DAY + at) for at in (5 * MIN, 50 * MIN)],  # inside 30d: two in one hour
        dict(account_id="b", placed_at=d),  # b: nothing in 30d
    )
    h = history_at(given)
    a, b = h["a"], h["b"]
    assert (a["max_orders_in_hour_lifetime"], a["max_orders_in_hour_30d"], a["max_orders_in_day_lifetime"]) == (3, 2, 5)
    assert a["active_days_lifetime"] == 3
    assert (b["max_orders_in_hour_lifetime"], b["max_orders_in_hour_30d"], b["max_orders_in_day_lifetime"]) == (1, 0, 1)


def test_the_30d_burst_counts_an_order_inside_the_window_when_t_is_not_on_the_hour():
    t = T + 30 * MIN  # build_features accepts any datetime as the as-of instant
    a = history_at(orders(dict(placed_at=t - 30 * DAY + 10 * MIN)), t)["a"]
    assert a["orders_30d"] == 1
    assert a["max_orders_in_hour_30d"] == 1  # is 0: the order's hour bucket starts 20 minutes before the window


def test_tempo():
    a = history_at(orders(*[dict(placed_at=T - d * DAY) for d in (10, 4, 1)]))["a"]
    assert (a["first_order_days_ago"], a["last_order_days_ago"]) == (10.0, 1.0)
    assert a["order_gap_hours_median_lifetime"] == 108.0  # gaps of 6 and 3 days
    single = history_at(orders(dict(placed_at=T - 36 * HOUR)))["a"]
    assert single["first_order_days_ago"] == 1.5
    assert single["order_gap_hours_median_lifetime"] is None  # one order has no gap


# -- window edges, per window ------------------------------------------------------------------

EDGES = [(w, days) for w, days in WINDOWS.items() if days is not None]


@pytest.mark.parametrize(("window", "days"), EDGES, ids=[w for w, _ in EDGES])
@pytest.mark.parametrize(("offset", "inside"), [(0 * US, 1), (US, 0)], ids=["at-start", "1us-before-start"])
def test_history_windows_start_exactly_days_before_t(window, days, offset, inside):
    placed = T - days * DAY - offset
    given = orders(buyer_cancel(placed, 5 * MIN, campaign_id="C", discount_usd=3.0))
    a = history_at(given)["a"]
    counts = (
        "orders",
        "cancels",
        "buyer_cancels",
        "buyer_cancels_before_payment",
        "fast_buyer_cancels",
        "campaign_orders",
        "campaign_cancels",
        "flash_orders",
        "early_campaign_orders",
    )
    assert {c: a[f"{c}_{window}"] for c in counts} == dict.fromkeys(counts, inside)
    assert a[f"discount_on_buyer_cancels_usd_{window}"] == 3.0 * inside
    assert {c: a[f"{c}_lifetime"] for c in counts} == dict.fromkeys(counts, 1)
    assert a[f"buyer_cancel_rate_{window}"] == pytest.approx((inside + 0.32) / (inside + 4))


@pytest.mark.parametrize(("offset", "inside"), [(0 * US, 1), (US, 0)], ids=["at-start", "1us-before-start"])
def test_30d_timing_columns_start_exactly_30_days_before_t(offset, inside):
    a = history_at(orders(buyer_cancel(T - 30 * DAY - offset, 7 * MIN)))["a"]
    assert a["buyer_cancel_minutes_median_30d"] == (7.0 if inside else None)
    assert a["max_orders_in_hour_30d"] == inside


def test_only_accounts_with_a_known_order_have_history():
    given = orders(dict(account_id="a", placed_at=T - US), dict(account_id="later", placed_at=T))
    assert set(history_at(given)) == {"a"}


def test_history_is_one_row_per_account():
    given = orders(*[dict(account_id=acc, placed_at=utc(2026, 3, day)) for acc in "abc" for day in (1, 2)])
    assert {acc: row["orders_lifetime"] for acc, row in history_at(given).items()} == {"a": 2, "b": 2, "c": 2}

"""features.context: what is normal for a region, a seller and a campaign, and how an account's
logistics, merchant and refusal cancellations compare with it.

Context rates are pooled with a firmer prior: (k + 20 * prior) / (n + 20).
"""

from __future__ import annotations

import polars as pl
import pytest
from feature_frames import DAY, HOUR, MIN, T, by_account, orders
from polars.testing import assert_frame_equal

from features.context import (
    CONTEXT_STRENGTH,
    LOGISTICS_PRIOR,
    REFUSAL_PRIOR,
    STOCKOUT_PRIOR,
    campaign_context,
    context,
    region_context,
    seller_context,
)

P = T - 10 * DAY  # placement of the orders below


def shipped(**more) -> dict:
    return dict(placed_at=P, paid_at=P + HOUR, shipped_at=P + DAY) | more


def delivered(**more) -> dict:
    return shipped(delivered_at=P + 3 * DAY) | more


def after_shipment(initiator: str, **more) -> dict:
    reason = {"logistics": "customs_hold", "buyer": "changed_mind"}[initiator]
    return shipped(cancelled_at=P + 2 * DAY, cancel_initiator=initiator, cancel_reason=reason) | more


def seller_cancel(paid: bool, **more) -> dict:
    states = dict(paid_at=P + HOUR) if paid else {}
    return (
        dict(placed_at=P, cancelled_at=P + 2 * HOUR, cancel_initiator="seller", cancel_reason="out_of_stock")
        | states
        | more
    )


def test_the_context_prior():
    assert (CONTEXT_STRENGTH, LOGISTICS_PRIOR, STOCKOUT_PRIOR, REFUSAL_PRIOR) == (20, 0.03, 0.02, 0.02)


def test_region_rates_are_per_shipped_order():
    given = orders(
        delivered(ship_region="BY"),
        delivered(ship_region="BY"),
        after_shipment("logistics", ship_region="BY"),
        after_shipment("buyer", ship_region="BY"),
        dict(placed_at=P, paid_at=P + HOUR, ship_region="BY"),  # not shipped: no trial
        delivered(ship_region=None),  # DE without a region is a destination of its own
        dict(placed_at=P, ship_country="FR", ship_region="BY"),  # same region code, other country
    )
    expected = pl.DataFrame(
        {
            "ship_country": ["DE", "DE", "FR"],
            "ship_region": [None, "BY", "BY"],
            # DE/BY: 4 shipped, 1 logistics failure, 1 refusal; DE/-: 1 shipped, none; FR/BY: nothing shipped
            "region_logistics_rate": [0.6 / 21, (1 + 0.6) / (4 + 20), 0.03],
            "region_refusal_rate": [0.4 / 21, (1 + 0.4) / (4 + 20), 0.02],
        }
    )
    got = region_context(given).sort("ship_country", "ship_region", nulls_last=False)
    assert_frame_equal(got, expected)


def test_seller_stockout_rate_is_per_paid_order():
    given = orders(
        delivered(seller_id="s1"),
        delivered(seller_id="s1"),
        seller_cancel(paid=True, seller_id="s1"),
        seller_cancel(paid=False, seller_id="s1"),  # unpaid: neither an event nor a trial
        dict(placed_at=P, seller_id="s2"),
    )
    expected = pl.DataFrame(
        {
            "seller_id": ["s1", "s2"],
            "seller_stockout_rate": [(1 + 0.4) / (3 + 20), 0.02],
            "seller_buyer_cancels": [0, 0],  # no buyer cancelled an order of either
        },
        schema_overrides={"seller_buyer_cancels": pl.UInt32},
    )
    assert_frame_equal(seller_context(given).sort("seller_id"), expected)


def test_campaign_context():
    given = orders(
        delivered(campaign_id="C"),
        seller_cancel(paid=True, campaign_id="C", placed_at=P + 2 * MIN),
        dict(placed_at=P + 9 * HOUR, campaign_id="L"),
        dict(placed_at=P + 9 * HOUR + 10 * 60 * MIN, campaign_id="L"),  # L spans 10 h: 90th percentile at 9 h
        dict(placed_at=P - DAY),  # outside any campaign: no row
    )
    expected = pl.DataFrame(
        {
            "campaign_id": ["C", "L"],
            "campaign_start": [P, P + 9 * HOUR],
            "campaign_stockout_rate": [(1 + 0.4) / (2 + 20), 0.02],
            "flash": [True, False],
        },
        schema_overrides={"campaign_start": pl.Datetime("us", "UTC")},
    )
    assert_frame_equal(campaign_context(given).sort("campaign_id"), expected)


# -- expected and excess per account -----------------------------------------------------------

REGIONS = pl.DataFrame(
    {
        "ship_country": ["DE", "DE"],
        "ship_region": ["BY", None],
        "region_logistics_rate": [0.1, 0.2],
        "region_refusal_rate": [0.05, 0.01],
    }
)
SELLERS = pl.DataFrame({"seller_id": ["s1"], "seller_stockout_rate": [0.04], "seller_buyer_cancels": [4]})
CAMPAIGNS = pl.DataFrame({"campaign_id": ["C"], "campaign_stockout_rate": [0.3]})


def test_expected_and_excess_against_given_context_rates():
    given = orders(
        delivered(ship_region="BY"),  # expects 0.1 logistics, 0.05 refusals, 0.04 stock-outs
        after_shipment("logistics", ship_region="BY"),  # the same, and is a logistics failure
        after_shipment("buyer", ship_region=None),  # expects 0.2, 0.01, 0.04; is a refusal
        seller_cancel(paid=True, ship_region="BY", campaign_id="C"),  # stock-out rate max(0.04, 0.3); is one
        dict(placed_at=P, ship_region=None),  # neither paid nor shipped: expects nothing
    )
    a = by_account(context(given, CAMPAIGNS, REGIONS, SELLERS))["a"]
    assert a == pytest.approx(
        {
            "account_id": "a",
            "logistics_cancels_expected_lifetime": 0.1 + 0.1 + 0.2,
            "logistics_cancels_excess_lifetime": 1 - 0.4,
            "seller_cancels_expected_lifetime": 0.04 * 3 + 0.3,
            "seller_cancels_excess_lifetime": 1 - 0.42,
            "refusals_expected_lifetime": 0.05 + 0.05 + 0.01,
            "refusals_excess_lifetime": 1 - 0.11,
            "region_logistics_rate_mean": (0.1 + 0.1 + 0.2 + 0.1 + 0.2) / 5,  # over all five orders
            "max_seller_cancel_share_lifetime": 1 / (4 + 3),  # 1 of s1's 4 buyer cancellations, prior 3
        }
    )


def test_an_unpaid_seller_cancel_is_neither_expected_nor_excess():
    a = by_account(context(orders(seller_cancel(paid=False)), CAMPAIGNS, REGIONS, SELLERS))["a"]
    assert (a["seller_cancels_expected_lifetime"], a["seller_cancels_excess_lifetime"]) == (0.0, 0.0)


def test_expected_logistics_failures_from_the_pooled_region_rate():
    # DE/BY: b's 2 delivered and c's 3 shipped orders, one a logistics failure -> r = 1.6 / 25
    # DE/-:  d's delivered order and e's logistics failure -> r = 1.6 / 22 (a null region is a region)
    given = orders(
        *[delivered(account_id="b", ship_region="BY") for _ in range(2)],
        *[delivered(account_id="c", ship_region="BY") for _ in range(2)],
        after_shipment("logistics", account_id="c", ship_region="BY"),
        delivered(account_id="d", ship_region=None),
        after_shipment("logistics", account_id="e", ship_region=None),
    )
    got = by_account(context(given, campaign_context(given), region_context(given), seller_context(given)))
    r_by, r_none = (1 + 0.6) / (5 + 20), (1 + 0.6) / (2 + 20)
    expected = {acc: row["logistics_cancels_expected_lifetime"] for acc, row in got.items()}
    excess = {acc: row["logistics_cancels_excess_lifetime"] for acc, row in got.items()}
    assert expected == pytest.approx({"b": 2 * r_by, "c": 3 * r_by, "d": r_none, "e": r_none})
    # observed minus expected: b and d had no failure, c and e one each
    assert excess == pytest.approx({"b": -2 * r_by, "c": 1 - 3 * r_by, "d": -r_none, "e": 1 - r_none})
    assert got["d"]["region_logistics_rate_mean"] == pytest.approx(r_none)


def test_a_logistics_cancel_before_shipment_is_not_excess_over_shipped_orders():
    # undeliverable address found before shipping: the region rate ignores it (no shipped order),
    # the expectation is over no shipped order, so the comparison should see nothing
    given = orders(
        dict(
            placed_at=P,
            paid_at=P + HOUR,
            cancelled_at=P + DAY,
            cancel_initiator="logistics",
            cancel_reason="undeliverable_address",
            ship_region="BY",
        )
    )
    a = by_account(context(given, campaign_context(given), region_context(given), seller_context(given)))["a"]
    assert a["logistics_cancels_expected_lifetime"] == 0.0
    assert a["logistics_cancels_excess_lifetime"] == 0.0  # is 1.0

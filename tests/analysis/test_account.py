"""pipeline.analysis.account: one account's orders as known at the end of a day."""

from __future__ import annotations

from pipeline import analysis

from .frames import AS_OF, H, T, market, order


def test_account_orders_name_cause_and_stage_as_known_at_the_end_of_the_day():
    snap = market(
        [
            order("o1", paid_at=T - 47 * H, shipped_at=T - 40 * H, delivered_at=T - 20 * H),
            order("o2", cancelled_at=T - 47 * H, cancel_initiator="buyer", cancel_reason="changed_mind"),
            order(
                "o3",
                paid_at=T - 47 * H,
                cancelled_at=T - 46 * H,
                cancel_initiator="seller",
                cancel_reason="out_of_stock",
            ),
            order(
                "o4",
                paid_at=T - 47 * H,
                shipped_at=T - 45 * H,
                cancelled_at=T - 10 * H,
                cancel_initiator="logistics",
                cancel_reason="customs_hold",
            ),
            # paid before the cancel, but the payment comes after the as-of end: unknown then, so before payment
            order("o5", paid_at=T + H, cancelled_at=T - H, cancel_initiator="payment", cancel_reason="payment_timeout"),
            # cancelled after the as-of end: not cancelled yet as far as the day knows
            order("o6", cancelled_at=T + H, cancel_initiator="buyer", cancel_reason="changed_mind"),
            order("o7", placed=T + H),  # placed after the as-of end: absent
            order("o8", account_id="a2"),  # another account
        ]
    )
    got = analysis.account_orders(snap, "a1", AS_OF)
    assert got[["order_id", "cause", "stage"]].values.tolist() == [
        ["o1", "not cancelled", "not cancelled"],
        ["o2", "buyer", "before payment"],
        ["o3", "seller", "after payment"],
        ["o4", "logistics", "after shipment"],
        ["o5", "payment", "before payment"],
        ["o6", "not cancelled", "not cancelled"],
    ]
    assert got["cancelled_at"].isna().tolist() == [True, False, False, False, False, True]

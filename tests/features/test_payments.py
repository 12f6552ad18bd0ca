"""features.payments.payments: attempts, failures, instruments and decline codes per account."""

from __future__ import annotations

import pytest
from feature_frames import DAY, HOUR, MIN, US, T, attempts, payments_at

from features.payments import DECLINE_CODES, FAILED_PRIOR
from features.time import WINDOWS


def failed(code: str, **more) -> dict:
    return dict(succeeded=False, failure_code=code, **more)


def history():
    """Buyer a, four orders, eight attempts:
    o1 (last day):  c1 insufficient_funds, c2 card_declined, then c3 succeeds
    o2 (3 days ago): c1 risk_declined, c1 do_not_honor (an unlisted code)
    o4 (10 days ago): c3 succeeds at once
    o3 (40 days ago): c4 timeout, then c4 succeeds
    """
    return attempts(
        failed("insufficient_funds", order_id="o1", instrument_id="c1", attempted_at=T - 2 * HOUR),
        failed("card_declined", order_id="o1", instrument_id="c2", attempted_at=T - HOUR),
        dict(order_id="o1", instrument_id="c3", attempted_at=T - 30 * MIN),
        failed("risk_declined", order_id="o2", instrument_id="c1", attempted_at=T - 3 * DAY),
        failed("do_not_honor", order_id="o2", instrument_id="c1", attempted_at=T - 3 * DAY + MIN),
        dict(order_id="o4", instrument_id="c3", attempted_at=T - 10 * DAY),
        failed("timeout", order_id="o3", instrument_id="c4", attempted_at=T - 40 * DAY),
        dict(order_id="o3", instrument_id="c4", attempted_at=T - 40 * DAY + MIN),
    )


def test_attempts_and_failures_per_window():
    a = payments_at(history())["a"]
    assert {w: a[f"payment_attempts_{w}"] for w in WINDOWS} == {"1d": 3, "7d": 5, "30d": 6, "90d": 8, "lifetime": 8}
    assert {w: a[f"failed_payment_attempts_{w}"] for w in WINDOWS} == {
        "1d": 2,
        "7d": 4,
        "30d": 4,
        "90d": 5,
        "lifetime": 5,
    }


def test_failed_rates_are_smoothed_towards_the_prior():
    a = payments_at(history())["a"]
    assert FAILED_PRIOR == 0.05
    # (failed + 4 * 0.05) / (attempts + 4)
    expected = {"1d": 2.2 / 7, "7d": 4.2 / 9, "30d": 4.2 / 10, "90d": 5.2 / 12, "lifetime": 5.2 / 12}
    assert {w: a[f"failed_payment_rate_{w}"] for w in WINDOWS} == pytest.approx(expected)


def test_instruments_tried():
    a = payments_at(history())["a"]
    # c1, c2, c3 in the last week (c3 again 10 days ago); c4 only 40 days ago
    assert (a["instruments_tried_7d"], a["instruments_tried_30d"], a["instruments_tried_lifetime"]) == (3, 3, 4)
    assert "instruments_tried_1d" not in a and "instruments_tried_90d" not in a
    assert a["instruments_never_succeeded_lifetime"] == 2  # c1 and c2; c3 and c4 succeeded at some point


def test_decline_codes():
    a = payments_at(history())["a"]
    assert DECLINE_CODES == ("insufficient_funds", "card_declined", "risk_declined", "timeout")
    codes = {c: a[f"declines_{c}_lifetime"] for c in (*DECLINE_CODES, "other")}
    assert codes == {"insufficient_funds": 1, "card_declined": 1, "risk_declined": 1, "timeout": 1, "other": 1}


def test_per_order_attempts():
    a = payments_at(history())["a"]
    assert a["max_attempts_one_order_lifetime"] == 3  # o1
    assert a["max_instruments_one_order_lifetime"] == 3  # o1: c1, c2, c3 (o2 retried c1)
    assert a["orders_with_failed_payment_lifetime"] == 3  # o1, o2, o3; o4 paid at once


def test_an_account_that_always_pays_first_time():
    given = attempts(
        dict(account_id="b", attempted_at=T - HOUR), dict(account_id="b", order_id="o2", attempted_at=T - 2 * DAY)
    )
    b = payments_at(given)["b"]
    assert (b["payment_attempts_1d"], b["failed_payment_attempts_1d"]) == (1, 0)
    assert b["failed_payment_rate_1d"] == pytest.approx((0 + 0.2) / (1 + 4))
    assert b["failed_payment_rate_lifetime"] == pytest.approx(0.2 / 6)
    assert (b["instruments_never_succeeded_lifetime"], b["orders_with_failed_payment_lifetime"]) == (0, 0)
    assert sum(b[f"declines_{c}_lifetime"] for c in (*DECLINE_CODES, "other")) == 0


EDGES = [(w, days) for w, days in WINDOWS.items() if days is not None]


@pytest.mark.parametrize(("window", "days"), EDGES, ids=[w for w, _ in EDGES])
@pytest.mark.parametrize(("offset", "inside"), [(0 * US, 1), (US, 0)], ids=["at-start", "1us-before-start"])
def test_payment_windows_start_exactly_days_before_t(window, days, offset, inside):
    a = payments_at(attempts(failed("timeout", attempted_at=T - days * DAY - offset)))["a"]
    assert (a[f"payment_attempts_{window}"], a[f"failed_payment_attempts_{window}"]) == (inside, inside)
    assert a["payment_attempts_lifetime"] == 1
    if window in ("7d", "30d"):
        assert a[f"instruments_tried_{window}"] == inside


def test_attempts_at_or_after_t_are_not_known():
    given = attempts(
        dict(attempted_at=T - US), failed("timeout", attempted_at=T), failed("timeout", attempted_at=T + DAY)
    )
    a = payments_at(given)["a"]
    assert (a["payment_attempts_lifetime"], a["failed_payment_attempts_lifetime"], a["declines_timeout_lifetime"]) == (
        1,
        0,
        0,
    )

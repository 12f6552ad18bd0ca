"""features.time: what is known at t (t exclusive), when a run's t is, and which rows a window holds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from feature_frames import DAY, HOUR, MIN, US, T, accounts, attempts, frame, labels, orders, sessions, utc
from polars.testing import assert_frame_equal

from features.time import WINDOWS, as_of_day, as_of_end, in_window, known_at

# -- known_at on orders ------------------------------------------------------------------------


def test_orders_placed_at_or_after_t_are_dropped_and_later_states_unset():
    given = orders(
        dict(order_id="just_before", placed_at=T - US),
        dict(order_id="at_t", placed_at=T),
        dict(order_id="after_t", placed_at=T + HOUR),
        # paid and shipped before t, delivered after: the delivery is not known yet
        dict(
            order_id="in_transit",
            placed_at=T - 3 * DAY,
            paid_at=T - 2 * DAY,
            payment_instrument_id="c1",
            shipped_at=T - US,
            delivered_at=T + DAY,
        ),
        # paid exactly at t and cancelled later: neither the payment nor the cancellation is known
        dict(
            order_id="pays_at_t",
            placed_at=T - 3 * DAY,
            paid_at=T,
            payment_instrument_id="c2",
            cancelled_at=T + HOUR,
            cancel_initiator="buyer",
            cancel_reason="changed_mind",
        ),
        dict(
            order_id="cancelled",
            placed_at=T - 3 * DAY,
            cancelled_at=T - HOUR,
            cancel_initiator="seller",
            cancel_reason="out_of_stock",
        ),
    )
    expected = orders(
        dict(order_id="just_before", placed_at=T - US),
        dict(
            order_id="in_transit",
            placed_at=T - 3 * DAY,
            paid_at=T - 2 * DAY,
            payment_instrument_id="c1",
            shipped_at=T - US,
        ),
        dict(order_id="pays_at_t", placed_at=T - 3 * DAY),
        dict(
            order_id="cancelled",
            placed_at=T - 3 * DAY,
            cancelled_at=T - HOUR,
            cancel_initiator="seller",
            cancel_reason="out_of_stock",
        ),
    )
    assert_frame_equal(known_at("orders", given, T), expected)


def test_known_at_does_not_modify_its_argument():
    given = orders(dict(placed_at=T - DAY, paid_at=T + HOUR, payment_instrument_id="c1"), dict(placed_at=T))
    before = given.clone()
    known_at("orders", given, T)
    assert_frame_equal(given, before)


# Each later state with the columns that exist only once it is reached, on a valid order.
STATE_ORDERS = {
    "paid_at": (dict(payment_instrument_id="c1"), ("payment_instrument_id",)),
    "shipped_at": (dict(paid_at=T - 2 * DAY, payment_instrument_id="c1"), ()),
    "delivered_at": (dict(paid_at=T - 2 * DAY, payment_instrument_id="c1", shipped_at=T - 2 * DAY), ()),
    "cancelled_at": (
        dict(cancel_initiator="buyer", cancel_reason="changed_mind"),
        ("cancel_initiator", "cancel_reason"),
    ),
}


@pytest.mark.parametrize("state", list(STATE_ORDERS))
@pytest.mark.parametrize(
    ("reached", "known"), [(T - US, True), (T, False), (T + DAY, False)], ids=["t-1us", "t", "t+1d"]
)
def test_a_state_is_known_only_if_reached_strictly_before_t(state, reached, known):
    extra, dependants = STATE_ORDERS[state]
    given = orders(dict(placed_at=T - 3 * DAY, **extra, **{state: reached}))
    row = known_at("orders", given, T).row(0, named=True)
    assert row[state] == (reached if known else None)
    for column in dependants:  # the instrument of an unknown payment, the cause of an unknown cancel
        assert row[column] == (given[column][0] if known else None)
    untouched = set(extra) - set(dependants)
    assert {c: row[c] for c in untouched} == {c: extra[c] for c in untouched}


@pytest.mark.parametrize(
    ("table", "build", "column"),
    [
        ("accounts", lambda at: accounts(dict(account_id="a", created_at=at)), "created_at"),
        ("payment_attempts", lambda at: attempts(dict(attempted_at=at)), "attempted_at"),
        ("sessions", lambda at: sessions(dict(started_at=at)), "started_at"),
        ("labels", lambda at: labels(dict(account_id="a", decided_at=at)), "decided_at"),
    ],
)
def test_other_tables_keep_rows_whose_event_time_is_before_t(table, build, column):
    given = pl.concat([build(T - US), build(T), build(T + DAY)])
    assert known_at(table, given, T)[column].to_list() == [T - US]


def test_a_table_with_nothing_known_is_empty_with_its_columns():
    given = orders(dict(placed_at=T))
    assert_frame_equal(known_at("orders", given, T), frame("orders", []))


# -- the as-of instant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "instant"),
    [
        (date(2026, 3, 31), utc(2026, 4, 1)),
        (date(2025, 12, 31), utc(2026, 1, 1)),
        (date(2028, 2, 28), utc(2028, 2, 29)),  # leap year
    ],
)
def test_as_of_end_is_midnight_utc_after_the_day(day, instant):
    assert as_of_end(day) == instant
    assert as_of_end(day).utcoffset().total_seconds() == 0


# -- windows ---------------------------------------------------------------------------------


EDGES = [(w, days) for w, days in WINDOWS.items() if days is not None]


@pytest.mark.parametrize(("window", "days"), EDGES, ids=[w for w, _ in EDGES])
@pytest.mark.parametrize(
    ("offset", "inside"),
    [(-US, True), (0 * US, True), (US, False), (HOUR, False)],
    ids=["start+1us", "start", "start-1us", "start-1h"],
)
def test_a_window_starts_exactly_days_before_t(window, days, offset, inside):
    # an order at t - days (+/- offset): the start is included, one microsecond earlier is not
    placed = T - days * DAY - offset
    got = orders(dict(placed_at=placed)).select(in_window("placed_at", T, window)).item()
    assert got is inside


@pytest.mark.parametrize("placed", [T - US, T - 10 * 365 * DAY, utc(2000, 1, 1)])
def test_lifetime_holds_everything_known(placed):
    assert orders(dict(placed_at=placed)).select(in_window("placed_at", T, "lifetime")).item() is True


def test_in_window_is_evaluated_per_row():
    # one row inside 7d, one just outside, one minutes before t
    given = orders(dict(placed_at=T - 7 * DAY), dict(placed_at=T - 7 * DAY - US), dict(placed_at=T - MIN))
    assert given.select(in_window("placed_at", T, "7d")).to_series().to_list() == [True, False, True]
    assert given.select(in_window("placed_at", T, "lifetime")).to_series().to_list() == [True, True, True]


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2026-03-31", date(2026, 3, 31)),
        (" 2026-03-31 ", date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 3, 31)),
        (datetime(2026, 3, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))), date(2026, 4, 1)),  # its UTC day
    ],
)
def test_as_of_day_reads_a_date_in_one_form(value, day):
    assert as_of_day(value) == day


@pytest.mark.parametrize("text", ["2026-13-40", "20260331", "2026-W13-2", "31/03/2026", ""])
def test_as_of_day_refuses_anything_else(text):
    with pytest.raises(ValueError, match="is not a date YYYY-MM-DD"):
        as_of_day(text)

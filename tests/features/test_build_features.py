"""features.build.build_features on a tiny snapshot: which rows, which columns, what fills the gaps."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from feature_frames import DAY, HOUR, MIN, US, T, accounts, attempts, by_account, frame, labels, orders, sessions
from polars.testing import assert_frame_equal

from features.build import KEY_COLUMNS, as_of_instant, build_features
from features.catalogue import catalogue, feature_names

AS_OF = date(2026, 3, 31)  # t = T = 2026-04-01T00:00Z


def snapshot() -> dict[str, pl.DataFrame]:
    """a1 and a4 order on one device (a ring founded by a1); a2 has no order, attempt or link;
    a5 registers exactly at t and a6 after it; a1's last order is placed at t."""
    return dict(
        accounts=accounts(
            dict(account_id="a4", created_at=T - 20 * DAY, email_domain="gmail.com"),
            dict(account_id="a1", created_at=T - 90 * DAY, email_domain="gmail.com"),
            dict(account_id="a2", created_at=T - 40 * DAY, email_domain=None, phone_verified=None),
            dict(account_id="a5", created_at=T),
            dict(account_id="a6", created_at=T + DAY),
        ),
        orders=orders(
            dict(
                order_id="o1",
                account_id="a1",
                placed_at=T - 2 * DAY,
                device_id="d1",
                cancelled_at=T - 2 * DAY + 5 * MIN,
                cancel_initiator="buyer",
                cancel_reason="changed_mind",
            ),
            dict(
                order_id="o2",
                account_id="a1",
                placed_at=T - 10 * DAY,
                paid_at=T - 10 * DAY + HOUR,
                payment_instrument_id="c1",
                device_id="d1",
            ),
            dict(order_id="o3", account_id="a4", placed_at=T - 3 * DAY, device_id="d1"),
            dict(order_id="o4", account_id="a1", placed_at=T, device_id="d1"),  # not known at t
        ),
        payment_attempts=attempts(
            dict(order_id="o2", account_id="a1", instrument_id="c1", attempted_at=T - 10 * DAY + HOUR),
            dict(order_id="o3", account_id="a4", instrument_id="c4", attempted_at=T - 3 * DAY, succeeded=False),
        ),
        sessions=sessions(dict(account_id="a1", device_id="d1", started_at=T - 5 * DAY)),
        labels=labels(dict(account_id="a4", decided_at=T - DAY)),
    )


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return build_features(**snapshot(), as_of=AS_OF)


def test_one_row_per_account_registered_before_t(table):
    assert table["account_id"].to_list() == ["a1", "a2", "a4"]  # sorted; a5 (at t) and a6 (after) absent


def test_columns_are_keys_then_the_catalogue_as_float64(table):
    assert table.columns == ["account_id", "ring_id", *feature_names()]
    assert table.schema["account_id"] == pl.String and table.schema["ring_id"] == pl.String
    assert {name: dtype for name, dtype in table.schema.items() if name not in KEY_COLUMNS} == dict.fromkeys(
        feature_names(), pl.Float64
    )
    assert len(set(feature_names())) == len(feature_names())


# The tiny snapshot has no shipping addresses, network prefixes or campaigns at all.
MISSING = {"addresses", "campaigns", "networks"}


def test_an_account_with_nothing_gets_each_features_fill(table):
    a2 = by_account(table)["a2"]
    own = {f.name for f in catalogue() if f.family == "account"}
    # zero counts, the prior for smoothed rates, unknown (None) where nothing can be said; ring
    # size 1; and unknown for every account where the snapshot lacks a source the column needs
    assert {f.name: a2[f.name] for f in catalogue() if f.name not in own} == {
        f.name: None if MISSING & set(f.needs) else f.fill for f in catalogue() if f.name not in own
    }
    assert a2["ring_id"] is None
    assert (a2["orders_lifetime"], a2["buyer_cancel_rate_30d"], a2["failed_payment_rate_7d"], a2["ring_size"]) == (
        0.0,
        0.08,
        0.05,
        1.0,
    )
    # its own columns: registered 40 days ago, phone unknown, no e-mail domain
    assert {n: a2[n] for n in sorted(own)} == {
        "account_age_days": 40.0,
        "email_domain_missing": 1.0,
        "email_domain_new_share": None,
        "phone_verified": None,
    }


def test_an_active_account(table):
    a1 = by_account(table)["a1"]
    assert a1["ring_id"] == "R-a1"  # a1 and a4 share device d1; a1 registered first
    assert (a1["orders_lifetime"], a1["orders_7d"], a1["buyer_cancels_lifetime"], a1["fast_buyer_cancels_1d"]) == (
        2.0,
        1.0,
        1.0,
        0.0,
    )
    assert a1["fast_buyer_cancels_7d"] == 1.0
    assert a1["buyer_cancel_rate_lifetime"] == pytest.approx((1 + 0.32) / (2 + 4))
    assert (a1["payment_attempts_lifetime"], a1["failed_payment_attempts_lifetime"]) == (1.0, 0.0)
    assert (a1["devices_used"], a1["cards_used"], a1["max_accounts_per_device"]) == (1.0, 1.0, 2.0)
    assert a1["max_known_abuser_share_device"] == 1.0  # a4's label, decided a day before t
    assert (a1["ring_size"], a1["ring_known_abuser_share"]) == (2.0, 1.0)
    a4 = by_account(table)["a4"]
    # a4's own label never counts for a4
    assert (a4["ring_id"], a4["ring_known_abuser_share"], a4["max_known_abuser_share_device"]) == ("R-a1", 0.0, 0.0)
    assert a4["email_domain_new_share"] == pytest.approx((1 + 0.1) / (2 + 1))  # a4 new on gmail.com, a1 not


def test_a_date_means_the_end_of_that_utc_day():
    assert as_of_instant(AS_OF) == T
    assert as_of_instant(T - HOUR) == T - HOUR


def test_the_same_instant_as_a_date_or_a_datetime_gives_the_same_table(table):
    assert_frame_equal(build_features(**snapshot(), as_of=T), table)


def test_without_sessions_and_labels():
    tables = snapshot()
    got = by_account(build_features(tables["accounts"], tables["orders"], tables["payment_attempts"], as_of=T - US))
    # t a microsecond before midnight: o1..o3 still known. Without a labels table nobody is
    # known to be an abuser or not (unknown, not 0); without sessions their counts are unknown.
    assert sorted(got) == ["a1", "a2", "a4"]
    assert got["a1"]["max_known_abuser_share_device"] is None
    assert got["a1"]["ring_known_abuser_share"] is None
    assert got["a1"]["sessions_lifetime"] is None
    assert got["a1"]["max_accounts_per_device"] == 2.0  # devices are still known from the orders
    assert got["a1"]["ring_id"] == "R-a1"  # orders alone link a1 and a4


def test_a_market_without_orders_gives_every_account_its_fills():
    acc = accounts(dict(account_id="a"), dict(account_id="b", created_at=T - 10 * DAY))
    empty = {name: frame(name, []) for name in ("orders", "payment_attempts", "sessions", "labels")}
    got = build_features(acc, **empty, as_of=AS_OF)
    assert got["account_id"].to_list() == ["a", "b"]
    own = {f.name for f in catalogue() if f.family == "account"}
    # Sessions and labels tables are given (empty: none yet); attempts, devices, cards, ... none.
    known = {"sessions", "labels"}
    fills = {f.name: f.fill if set(f.needs) <= known else None for f in catalogue() if f.name not in own}
    for row in got.iter_rows(named=True):
        assert {name: row[name] for name in fills} == fills
    assert got["account_age_days"].to_list() == [100.0, 10.0]


def test_an_empty_snapshot_gives_an_empty_table_of_the_same_columns():
    got = build_features(frame("accounts", []), frame("orders", []), frame("payment_attempts", []), as_of=AS_OF)
    assert got.height == 0
    assert got.columns == ["account_id", "ring_id", *feature_names()]

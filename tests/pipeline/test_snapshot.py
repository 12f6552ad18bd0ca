"""load_snapshot: what a snapshot directory reads as, which rows it rejects and why, and when it stops.

Every test starts from the small valid market of snapshot_market.py (accounts a1-a3, orders o1-o4,
payment attempts p1-p4), breaks one thing, and names the exact rejects that follow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from snapshot_market import T0, H, csv, frame

from contract.tables import REPAIRS, polars_schema
from contract.values import RuleAction
from pipeline.errors import ConfigError, InputError, RejectLimitExceeded
from pipeline.snapshot import _duplicated, load_snapshot, write_rejects

INITIATORS = "buyer, seller, logistics, payment, platform"


def lines(result) -> list[tuple[str, str, str]]:
    return result.rejects.select("table", "key", "rule").rows()


# Every rule rejects: these tests specify the rejects (test_repairs.py specifies the repairs).
ALL_REJECT = dict.fromkeys(REPAIRS, RuleAction.REJECT)


def load(directory: Path, limit: float = 1.0):
    """Most tests look at rejects, so by default nothing stops the load."""
    return load_snapshot(directory, reject_limit=limit, actions=ALL_REJECT)


# -- a valid snapshot ------------------------------------------------------------------------


def test_a_valid_snapshot_has_no_rejects_and_contract_types(tables, write):
    result = load(write(tables), limit=0.0)

    assert result.rejects.is_empty()
    assert result.rejects.schema == pl.Schema(
        {"table": pl.String, "key": pl.String, "rule": pl.String, "row": pl.String, "action": pl.String}
    )
    assert result.counts == {
        t: {"rows": 3 if t == "accounts" else 4, "rejected": 0} for t in ("accounts", "orders", "payment_attempts")
    }
    snap = result.snapshot
    for name in ("accounts", "orders", "payment_attempts"):
        assert getattr(snap, name).schema == pl.Schema(polars_schema(name))
    assert snap.orders["order_id"].to_list() == ["o1", "o2", "o3", "o4"]
    assert snap.sessions is None and snap.labels is None


def test_optional_tables_are_read_when_present(tables, write):
    tables["sessions"] = [dict(account_id="a1", device_id="d1", ip_prefix=None, started_at=T0)]
    tables["labels"] = [dict(account_id="a2", label="abuse", decided_at=T0, source="review")]

    result = load(write(tables))

    assert result.snapshot.sessions.rows() == [("a1", "d1", None, T0)]
    assert result.snapshot.labels.rows() == [("a2", "abuse", T0, "review")]
    assert result.counts["sessions"] == {"rows": 1, "rejected": 0}
    assert result.counts["labels"] == {"rows": 1, "rejected": 0}


def test_extra_columns_are_kept_after_the_contract_columns(tables, write):
    for row in tables["accounts"]:
        row["loyalty_tier"] = "gold"

    accounts = load(write(tables)).snapshot.accounts

    assert accounts.columns == [*polars_schema("accounts"), "loyalty_tier"]
    assert accounts["loyalty_tier"].to_list() == ["gold"] * 3


# -- one broken row, one reject: the table's own rules ---------------------------------------

ROW_RULES = {
    # case: (table, row index, changes, expected key, expected rule)
    "negative amount": ("orders", 0, {"amount_usd": -5.0}, "o1", "orders.amount_usd < 0"),
    "zero items": ("orders", 3, {"item_count": 0}, "o4", "orders.item_count < 1"),
    "unknown initiator": (
        "orders",
        1,
        {"cancel_initiator": "alien"},
        "o2",
        f"orders.cancel_initiator not in ({INITIATORS})",
    ),
    "bad country code": ("accounts", 0, {"country": "Germany"}, "a1", "accounts.country does not match ^[A-Z]{2}$"),
    "lowercase ship country": (
        "orders",
        2,
        {"ship_country": "de"},
        "o3",
        "orders.ship_country does not match ^[A-Z]{2}$",
    ),
    "null account of an order": ("orders", 3, {"account_id": None}, "o4", "orders.account_id is null"),
    "null key": ("payment_attempts", 3, {"attempt_id": None}, "", "payment_attempts.attempt_id is null"),
    "cancel before placement": (
        "orders",
        1,
        {"cancelled_at": T0 - H},
        "o2",
        "orders breaks: cancelled_at >= placed_at",
    ),
    "delivered and cancelled": (
        "orders",
        0,
        {"cancelled_at": T0 + 40 * H, "cancel_initiator": "buyer"},
        "o1",
        "orders breaks: a delivered order is not cancelled",
    ),
    "paid before placed": (
        "orders",
        2,
        {"paid_at": T0 - H},
        "o3",
        "orders breaks: placed_at <= paid_at <= shipped_at <= delivered_at",
    ),
    "delivered before shipped": (
        "orders",
        0,
        {"delivered_at": T0 + H},
        "o1",
        "orders breaks: placed_at <= paid_at <= shipped_at <= delivered_at",
    ),
    "initiator without cancelled_at": (
        "orders",
        3,
        {"cancel_initiator": "seller"},
        "o4",
        "orders breaks: cancel_initiator is set exactly when cancelled_at is",
    ),
    "cancelled without initiator": (
        "orders",
        1,
        {"cancel_initiator": None},
        "o2",
        "orders breaks: cancel_initiator is set exactly when cancelled_at is",
    ),
    "failure_code with succeeded": (
        "payment_attempts",
        0,
        {"failure_code": "timeout"},
        "p1",
        "payment_attempts breaks: failure_code is empty exactly when succeeded",
    ),
    "failed without failure_code": (
        "payment_attempts",
        1,
        {"failure_code": None},
        "p2",
        "payment_attempts breaks: failure_code is empty exactly when succeeded",
    ),
}


@pytest.mark.parametrize("case", ROW_RULES, ids=list(ROW_RULES))
def test_a_row_that_breaks_one_rule_is_rejected_alone(tables, write, case):
    table, index, changes, key, rule = ROW_RULES[case]
    tables[table][index].update(changes)

    result = load(write(tables))

    assert [line for line in lines(result) if line[0] == table] == [(table, key, rule)]
    assert result.counts[table] == {"rows": len(tables[table]), "rejected": 1}
    assert getattr(result.snapshot, table).height == len(tables[table]) - 1


def test_every_copy_of_a_duplicated_key_is_rejected_and_so_are_their_orders(tables, write):
    tables["accounts"][2]["account_id"] = "a2"  # a2 twice; a3 gone

    result = load(write(tables))

    assert lines(result) == [
        ("accounts", "a2", "accounts.account_id duplicated"),
        ("accounts", "a2", "accounts.account_id duplicated"),
        ("orders", "o2", "orders.account_id refers to a rejected accounts row"),
        ("orders", "o3", "orders.account_id refers to a rejected accounts row"),
        ("orders", "o4", "orders.account_id not in accounts"),
        ("payment_attempts", "p2", "payment_attempts.order_id refers to a rejected orders row"),
        ("payment_attempts", "p3", "payment_attempts.order_id refers to a rejected orders row"),
        ("payment_attempts", "p4", "payment_attempts.order_id refers to a rejected orders row"),
    ]
    assert result.snapshot.accounts["account_id"].to_list() == ["a1"]
    assert result.snapshot.orders["order_id"].to_list() == ["o1"]
    assert result.snapshot.payment_attempts["attempt_id"].to_list() == ["p1"]


def test_an_order_of_an_unknown_account_is_an_orphan(tables, write):
    tables["orders"][3]["account_id"] = "ghost"

    result = load(write(tables))

    assert lines(result) == [
        ("orders", "o4", "orders.account_id not in accounts"),
        ("payment_attempts", "p4", "payment_attempts.order_id refers to a rejected orders row"),
    ]


def test_a_payment_attempt_of_a_rejected_order_is_rejected(tables, write):
    tables["orders"][2]["amount_usd"] = -1.0  # o3, which p2 and p3 tried to pay

    result = load(write(tables))

    assert lines(result) == [
        ("orders", "o3", "orders.amount_usd < 0"),
        ("payment_attempts", "p2", "payment_attempts.order_id refers to a rejected orders row"),
        ("payment_attempts", "p3", "payment_attempts.order_id refers to a rejected orders row"),
    ]
    assert result.counts["payment_attempts"] == {"rows": 4, "rejected": 2}


def test_a_row_breaking_several_rules_has_a_line_per_rule_and_counts_once(tables, write):
    tables["orders"][0].update(amount_usd=-1.0, ship_country="xx", account_id="ghost")

    result = load(write(tables))

    assert [line for line in lines(result) if line[0] == "orders"] == [
        ("orders", "o1", "orders.account_id not in accounts"),
        ("orders", "o1", "orders.amount_usd < 0"),
        ("orders", "o1", "orders.ship_country does not match ^[A-Z]{2}$"),
    ]
    assert result.counts["orders"] == {"rows": 4, "rejected": 1}


def test_a_reject_keeps_the_raw_row_as_json(tables, write):
    tables["orders"][3].update(discount_usd=-2.5, promo="spring")

    (row,) = load(write(tables)).rejects.filter(table="orders")["row"].to_list()

    raw = json.loads(row)
    assert raw["order_id"] == "o4" and raw["discount_usd"] == -2.5 and raw["promo"] == "spring"


def test_composite_keys_are_joined_with_a_bar(tables, write):
    tables["sessions"] = [dict(account_id="a1", device_id=None, ip_prefix="10.0.0.0/24", started_at=T0)]
    tables["labels"] = [dict(account_id="a2", label="maybe", decided_at=T0, source="review")]

    result = load(write(tables))

    assert lines(result) == [
        ("sessions", "a1||2026-03-01T12:00:00Z", "sessions.device_id is null"),
        ("labels", "a2|2026-03-01T12:00:00Z", "labels.label not in (abuse, legit)"),
    ]


# -- types -----------------------------------------------------------------------------------


def test_values_that_do_not_cast_reject_their_row_only(tables, write):
    good = dict(
        account_id="a1",
        seller_id="s1",
        item_id="i1",
        placed_at="2026-03-01T12:00:00",
        amount_usd="20.5",
        discount_usd="0",
        item_count="1",
        ship_country="DE",
    )
    tables["orders"] = csv(
        "orders",
        [
            good | {"order_id": "o1"},
            good | {"order_id": "o2", "amount_usd": "twenty"},
            good | {"order_id": "o3", "placed_at": "yesterday"},
            good | {"order_id": "o4", "item_count": "1.5"},
            *(good | {"order_id": f"o{i}"} for i in range(5, 12)),
        ],
    )

    result = load(write(tables))

    assert [line for line in lines(result) if line[0] == "orders"] == [
        ("orders", "o2", "type: amount_usd is not a float"),
        ("orders", "o3", "type: placed_at is not a timestamp"),
        ("orders", "o4", "type: item_count is not an int"),
    ]
    # The null a failed cast leaves is not reported again (as a null, or by a dataframe check).
    assert result.counts["orders"] == {"rows": 11, "rejected": 3}
    assert result.snapshot.orders.row(0, named=True)["amount_usd"] == 20.5


def test_a_row_with_a_value_that_does_not_cast_still_answers_for_its_other_columns(tables, write):
    good = dict(
        account_id="a1",
        seller_id="s1",
        item_id="i1",
        placed_at="2026-03-01T12:00:00",
        amount_usd="1",
        discount_usd="0",
        item_count="1",
        ship_country="DE",
    )
    tables["orders"] = csv(
        "orders",
        [
            good | {"order_id": "o1", "amount_usd": "twenty", "ship_country": "de"},
            good | {"order_id": "o2", "placed_at": "soon"},
            good | {"order_id": "o2"},
            *(good | {"order_id": f"o{i}"} for i in range(3, 12)),
        ],
    )

    result = load(write(tables))

    assert [line for line in lines(result) if line[0] == "orders"] == [
        ("orders", "o1", "orders.ship_country does not match ^[A-Z]{2}$"),
        ("orders", "o1", "type: amount_usd is not a float"),
        ("orders", "o2", "orders.order_id duplicated"),
        ("orders", "o2", "type: placed_at is not a timestamp"),
        ("orders", "o2", "orders.order_id duplicated"),  # the copy that reads fine goes too
    ]


def test_booleans_in_csv_are_true_false_1_0_in_any_case(tables, write):
    tables["accounts"] = (
        "account_id,created_at,country,email_domain,phone_verified\n"
        "a1,2026-01-01,DE,,TRUE\na2,2026-01-01,DE,,0\na3,2026-01-01,DE,,yes\na4,2026-01-01,DE,,\na5,2026-01-01,DE,,False\n"
    )

    result = load(write(tables))

    assert result.snapshot.accounts["phone_verified"].to_list() == [True, False, None, False]
    assert [line for line in lines(result) if line[0] == "accounts"] == [
        ("accounts", "a3", "type: phone_verified is not a bool")
    ]


def test_integer_ids_in_parquet_are_read_as_strings(tables, write):
    accounts = frame("accounts", tables["accounts"]).with_columns(account_id=pl.Series([1, 2, 3]))
    for row in tables["orders"]:
        row["account_id"] = row["account_id"][1:]  # "a1" -> "1"

    result = load(write({**tables, "accounts": accounts}))

    assert result.rejects.is_empty()
    assert result.snapshot.accounts["account_id"].to_list() == ["1", "2", "3"]


PARQUET_CASTS = {
    # case: (table, column, stored values, values as loaded, (key, rule) of the one that does not cast)
    "float counts": (
        "orders",
        "item_count",
        pl.Series([1.0, 2.5, 3.0, 4.0]),
        [1, 3, 4],
        ("o2", "type: item_count is not an int"),
    ),
    "int32 counts": ("orders", "item_count", pl.Series([1, 2, 3, 4], dtype=pl.Int32), [1, 2, 3, 4], None),
    "0/1 flags": (
        "accounts",
        "phone_verified",
        pl.Series([1, 0, 2]),
        [True, False],
        ("a3", "type: phone_verified is not a bool"),
    ),
    "float32 money": (
        "orders",
        "amount_usd",
        pl.Series([1.5, 2.0, 0.0, 4.25], dtype=pl.Float32),
        [1.5, 2.0, 0.0, 4.25],
        None,
    ),
    "text money": (
        "orders",
        "amount_usd",
        pl.Series(["1.5", " 2", "lots", "4"]),
        [1.5, 2.0, 4.0],
        ("o3", "type: amount_usd is not a float"),
    ),
    "categorical country": (
        "accounts",
        "country",
        pl.Series(["DE", "FR", "PL"], dtype=pl.Categorical),
        ["DE", "FR", "PL"],
        None,
    ),
}


@pytest.mark.parametrize("case", PARQUET_CASTS, ids=list(PARQUET_CASTS))
def test_parquet_columns_of_a_near_type_are_cast_value_by_value(tables, write, case):
    table, column, stored, loaded, bad = PARQUET_CASTS[case]
    data = frame(table, tables[table]).with_columns(stored.alias(column))

    result = load(write({**tables, table: data}))

    assert getattr(result.snapshot, table)[column].to_list() == loaded
    assert [line[1:] for line in lines(result) if line[0] == table] == ([bad] if bad else [])


def test_a_parquet_column_of_an_impossible_type_rejects_every_row(tables, write):
    orders = frame("orders", tables["orders"]).with_columns(placed_at=pl.lit(True))
    rule = "type: placed_at is stored as Boolean, not a timestamp"

    result = load(write({**tables, "orders": orders}))

    assert [line for line in lines(result) if line[0] == "orders"] == [("orders", f"o{i}", rule) for i in range(1, 5)]
    assert result.snapshot.orders.is_empty() and result.snapshot.payment_attempts.is_empty()
    with pytest.raises(RejectLimitExceeded, match=f"orders: .*most common rule: {rule} "):
        load_snapshot(write({**tables, "orders": orders}))


def test_a_numeric_column_stored_as_a_date_rejects_every_row(tables, write):
    orders = frame("orders", tables["orders"]).with_columns(amount_usd=pl.lit(datetime(2026, 1, 1).date()))

    result = load(write({**tables, "orders": orders}))

    assert {line[2] for line in lines(result) if line[0] == "orders"} == {
        "type: amount_usd is stored as Date, not a float"
    }
    assert result.counts["orders"] == {"rows": 4, "rejected": 4}


def test_an_all_empty_nullable_column_of_an_impossible_type_rejects_nothing(tables, write):
    # pandas writes an all-missing text column as float64 NaN; empty values are simply empty.
    orders = frame("orders", tables["orders"]).with_columns(ship_region=pl.lit(None, dtype=pl.Float64))

    result = load(write({**tables, "orders": orders}))

    assert [line for line in lines(result) if line[0] == "orders"] == []
    assert result.snapshot.orders["ship_region"].dtype == pl.String
    assert result.snapshot.orders["ship_region"].null_count() == 4


def test_naive_and_aware_timestamps_all_end_as_the_same_utc_instants(tables, write):
    berlin = frame("orders", tables["orders"]).with_columns(
        pl.col("placed_at", "paid_at", "shipped_at", "delivered_at", "cancelled_at").dt.convert_time_zone(
            "Europe/Berlin"
        )
    )
    naive_ms = frame("payment_attempts", tables["payment_attempts"]).with_columns(
        pl.col("attempted_at").dt.replace_time_zone(None).dt.cast_time_unit("ms")
    )
    tables["accounts"] = (
        "account_id,created_at,country,email_domain,phone_verified\n"
        "a1,2026-03-01T12:00:00,DE,,\n"  # naive: UTC
        "a2,2026-03-01T12:00:00Z,DE,,\n"
        "a3,2026-03-01T14:00:00+02:00,DE,,\n"
        "a4,2026-03-01 07:00:00.000-05:00,DE,,\n"
        "a5,2026-03-01,DE,,\n"  # a date alone is its midnight, UTC
    )

    snap = load(write({**tables, "orders": berlin, "payment_attempts": naive_ms})).snapshot

    utc = pl.Datetime("us", "UTC")
    assert (
        snap.accounts.schema["created_at"]
        == snap.orders.schema["placed_at"]
        == snap.payment_attempts.schema["attempted_at"]
        == utc
    )
    assert snap.accounts["created_at"].to_list() == [T0] * 4 + [datetime(2026, 3, 1, tzinfo=UTC)]
    assert snap.orders["placed_at"].to_list() == [T0] * 4
    assert snap.orders["delivered_at"].to_list() == [T0 + 30 * H, None, None, None]
    assert snap.payment_attempts["attempted_at"].to_list() == [T0 + H] * 4


# -- file forms and layouts ------------------------------------------------------------------


def test_csv_with_a_bom_quoted_commas_and_empty_strings(tables, write):
    tables["accounts"] = (
        "\ufeffaccount_id,created_at,country,email_domain,phone_verified,note\n"
        'a1,2026-03-01T12:00:00Z,DE,gmail.com,true,"likes commas, and ""quotes"""\n'
        'a2,2026-03-01T12:00:00Z,DE,"",false,\n'
        "a3,2026-03-01T12:00:00Z,DE,,,\n"
    )

    result = load(write(tables), limit=0.0)

    accounts = result.snapshot.accounts
    assert accounts.columns[0] == "account_id"  # not "\ufeffaccount_id"
    assert accounts["note"].to_list() == ['likes commas, and "quotes"', None, None]
    assert accounts["email_domain"].to_list() == ["gmail.com", None, None]
    assert accounts["phone_verified"].to_list() == [True, False, None]


def test_the_whole_snapshot_can_be_csv(tables, write):
    result = load(write(tables, fmt="csv"), limit=0.0)

    assert result.rejects.is_empty()
    assert result.snapshot.orders.equals(frame("orders", tables["orders"]))


def test_a_directory_of_hive_partitioned_parquet_files(tables, write):
    directory = write({k: v for k, v in tables.items() if k != "orders"})
    orders = frame("orders", tables["orders"])
    for day, part in (("2026-03-01", orders.head(3)), ("2026-03-02", orders.tail(1))):
        (directory / "orders" / f"day={day}").mkdir(parents=True)
        part.write_parquet(directory / "orders" / f"day={day}" / "part-0.parquet")
    (directory / "orders" / "_SUCCESS").write_text("")  # Spark's marker file is not data

    result = load(directory, limit=0.0)

    got = result.snapshot.orders.sort("order_id")
    assert got.columns == [*polars_schema("orders"), "day"]
    assert got.drop("day").equals(orders)
    assert got["day"].cast(pl.String).to_list() == ["2026-03-01"] * 3 + ["2026-03-02"]


def test_empty_tables_are_valid_and_typed(tables, write):
    tables["orders"] = ",".join(polars_schema("orders")) + "\n"  # header only
    tables["payment_attempts"] = []  # zero-row Parquet

    result = load(write(tables), limit=0.0)

    assert result.snapshot.orders.schema == pl.Schema(polars_schema("orders")) and result.snapshot.orders.is_empty()
    assert result.snapshot.payment_attempts.schema == pl.Schema(polars_schema("payment_attempts"))
    assert result.counts["orders"] == {"rows": 0, "rejected": 0}


# -- snapshots that cannot be used at all ----------------------------------------------------


def test_a_missing_required_table_stops_the_load(tables, write):
    del tables["payment_attempts"]

    with pytest.raises(InputError, match=r"^payment_attempts: required table missing"):
        load(write(tables))


def test_a_missing_column_stops_the_load_naming_it(tables, write):
    orders = frame("orders", tables["orders"]).drop("placed_at", "item_count")

    with pytest.raises(InputError, match=r"^orders: missing columns placed_at, item_count in .*orders\.parquet$"):
        load(write({**tables, "orders": orders}))


def test_a_truncated_parquet_file_stops_the_load_naming_it(tables, write):
    directory = write(tables)
    data = (directory / "orders.parquet").read_bytes()
    (directory / "orders.parquet").write_bytes(data[: len(data) // 2])

    with pytest.raises(InputError, match=r"^orders: cannot read .*orders\.parquet: "):
        load(directory)


def test_a_truncated_file_inside_a_parquet_directory_is_named(tables, write):
    directory = write({k: v for k, v in tables.items() if k != "orders"})
    (directory / "orders").mkdir()
    frame("orders", tables["orders"]).write_parquet(directory / "orders" / "part-0.parquet")
    (directory / "orders" / "part-1.parquet").write_bytes(b"PAR1 not really")

    with pytest.raises(InputError, match=r"^orders: cannot read .*orders/part-1\.parquet: "):
        load(directory)


def test_binary_garbage_in_a_csv_stops_the_load_naming_it(tables, write):
    directory = write(tables)
    (directory / "accounts.parquet").unlink()
    (directory / "accounts.csv").write_bytes(
        b"account_id,created_at,country,email_domain,phone_verified\n\xff\xfe\x00\x9c,\x81\n"
    )

    with pytest.raises(InputError, match=r"^accounts: cannot read .*accounts\.csv: "):
        load(directory)


def test_two_forms_of_one_table_stop_the_load_naming_both(tables, write):
    directory = write(tables)
    frame("orders", tables["orders"]).write_csv(directory / "orders.csv")

    with pytest.raises(InputError, match=r"^orders: found .*orders\.parquet and .*orders\.csv; keep exactly one$"):
        load(directory)


# -- the reject limit ------------------------------------------------------------------------


def test_over_the_reject_limit_the_load_stops_naming_table_rule_and_keys(tables, write):
    for row in tables["orders"][:3]:
        row["amount_usd"] = -1.0
    tables["orders"][3]["ship_country"] = "??"

    with pytest.raises(RejectLimitExceeded) as stopped:
        load_snapshot(write(tables), reject_limit=0.5)

    assert str(stopped.value) == (
        "orders: 4 of 4 rows rejected (100.00%), over the limit of 50.00%; "
        "most common rule: orders.amount_usd < 0 (3 rows), e.g. keys o1, o2, o3; "
        "payment_attempts: 4 of 4 rows rejected (100.00%), over the limit of 50.00%; most common rule: "
        "payment_attempts.order_id refers to a rejected orders row (4 rows), e.g. keys p1, p2, p3 "
        "(raise --reject-limit, now 0.5, to accept them, or fix the export)"
    )
    # The rejects found are handed over, to be written even though the load stops.
    assert stopped.value.rejects.group_by("table").len().sort("table").rows() == [
        ("orders", 4),
        ("payment_attempts", 4),
    ]


def test_exactly_at_the_reject_limit_the_load_goes_on(tables, write):
    tables["orders"][0]["amount_usd"] = -1.0  # 1 of 4 orders; p1 follows it: 1 of 4 attempts

    result = load_snapshot(write(tables), reject_limit=0.25)

    assert result.counts["orders"] == {"rows": 4, "rejected": 1}
    with pytest.raises(RejectLimitExceeded, match=r"^orders: 1 of 4 rows rejected \(25\.00%\)"):
        load_snapshot(write(tables), reject_limit=0.24)


def test_rejects_round_trip_through_parquet(tables, write, tmp_path):
    tables["orders"][0]["amount_usd"] = -1.0
    result = load(write(tables))

    write_rejects(result.rejects, tmp_path / "out" / "rejects.parquet")

    assert pl.read_parquet(tmp_path / "out" / "rejects.parquet").equals(result.rejects)


# -- the command line ------------------------------------------------------------------------

CLI = Path(sys.executable).parent / "buyer-abuse"


def validate(data: Path, out: Path, *more: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BUYER_ABUSE_DEBUG"}
    command = [str(CLI), "validate", "--data", str(data), "--out", str(out), *more]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def assert_one_line_error(run: subprocess.CompletedProcess, expected: str) -> None:
    """Non-zero exit and exactly one stderr line, the error (progress goes to stdout)."""
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = run.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("buyer-abuse: error: ") and expected in errors[0], run.stderr


def test_cli_missing_table(tables, write, tmp_path):
    del tables["orders"]

    run = validate(write(tables), tmp_path / "out")

    assert_one_line_error(run, "orders: required table missing")
    assert len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_truncated_parquet(tables, write, tmp_path):
    directory = write(tables)
    (directory / "accounts.parquet").write_bytes((directory / "accounts.parquet").read_bytes()[:100])

    run = validate(directory, tmp_path / "out")

    assert_one_line_error(run, "accounts: cannot read ")
    assert len(run.stderr.splitlines()) == 1


def test_cli_reject_limit_exceeded_writes_only_the_rejects(tables, write, tmp_path):
    tables["accounts"][0]["country"] = "Germany"

    run = validate(write(tables), tmp_path / "out", "--reject-limit", "0.2")

    assert run.returncode == 65  # bad input data
    assert_one_line_error(run, "accounts: 1 of 3 rows rejected (33.33%), over the limit of 20.00%")
    assert "accounts.country does not match ^[A-Z]{2}$" in run.stderr and "e.g. keys a1" in run.stderr
    assert "--reject-limit" in run.stderr and f"(rejects in {tmp_path / 'out' / 'rejects.parquet'})" in run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rejects.parquet"]  # no summary.json
    assert pl.read_parquet(tmp_path / "out" / "rejects.parquet")["key"].to_list() == ["a1", "o1", "p1"]


def test_cli_writes_rejects_and_summary(tables, write, tmp_path):
    tables["orders"][1]["cancel_initiator"] = "alien"
    out = tmp_path / "out"

    run = validate(write(tables), out, "--reject-limit", "0.5")

    assert run.returncode == 0, run.stderr
    rejects = pl.read_parquet(out / "rejects.parquet")
    assert rejects.select("table", "key").rows() == [("orders", "o2")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tables"]["orders"] == {"rows": 4, "rejected": 1}
    assert summary["rejects"] == 1
    table = [line.split() for line in run.stdout.splitlines() if " INFO " not in line]  # logs share stdout
    assert table[0] == ["table", "rows", "rejected"] and ["orders", "4", "1"] in table


# -- internals worth pinning -----------------------------------------------------------------


def test_pandera_reports_in_chunks_without_losing_duplicates(tables, write, monkeypatch):
    tables["accounts"][2]["account_id"] = "a1"
    tables["orders"][1]["order_id"] = "o1"
    tables["orders"][2].update(amount_usd=-1.0, ship_country="x")
    tables["orders"][3]["cancel_reason"] = "changed_mind"
    directory = write(tables)
    whole = load(directory)

    monkeypatch.setattr("pipeline.snapshot.REPORT_CHUNK", 1)  # one Model.validate call per flagged row
    chunked = load(directory)

    assert lines(chunked) == lines(whole)
    assert ("orders", "o1", "orders.order_id duplicated") in lines(chunked)
    assert (
        chunked.counts
        == whole.counts
        == {
            "accounts": {"rows": 3, "rejected": 2},
            "orders": {"rows": 4, "rejected": 4},
            "payment_attempts": {"rows": 4, "rejected": 4},
        }
    )


def test_a_reject_limit_outside_0_1_is_a_config_error(tables, write):
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_snapshot(write(tables), reject_limit=1.5)


@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab", max_size=3)), max_size=40))
def test_duplicated_marks_every_copy_like_is_duplicated(values):
    series = pl.Series(values, dtype=pl.String)

    assert _duplicated(series).to_list() == series.is_duplicated().to_list()

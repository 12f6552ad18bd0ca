"""Validation rules with a stated repair, identifiers, and rejects that name their cause: what a
faithful but messy export reads as (contract.tables.REPAIRS, contract.values.ID_PATTERN)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from snapshot_market import T0, H

from contract.tables import REPAIRS, default_actions
from contract.values import RuleAction
from pipeline.errors import InputError, RejectLimitExceeded
from pipeline.snapshot import load_snapshot

STATES = "orders breaks: placed_at <= paid_at <= shipped_at <= delivered_at"


def lines(result) -> list[tuple[str, str, str, str]]:
    return result.rejects.select("table", "key", "rule", "action").rows()


def order(result, order_id: str) -> dict:
    return result.snapshot.orders.filter(pl.col("order_id") == order_id).row(0, named=True)


def test_an_order_shipped_before_payment_is_repaired_by_default_and_recorded(tables, write):
    tables["orders"][0].update(shipped_at=T0 + 0.5 * H)  # o1: paid at T0+1h, handed to the carrier before

    result = load_snapshot(write(tables), reject_limit=0.0)

    assert default_actions()["orders.states_in_order"] == RuleAction.REPAIR
    assert lines(result) == [("orders", "o1", STATES, "repaired")]
    kept = order(result, "o1")
    assert kept["shipped_at"] == kept["paid_at"] == T0 + H  # raised to the state before it, never earlier
    assert kept["delivered_at"] == T0 + 30 * H  # already in order: unchanged
    assert (result.counts["orders"], result.repaired["orders"]) == ({"rows": 4, "rejected": 0}, 1)
    raw = json.loads(result.rejects["row"][0])
    assert raw["shipped_at"].startswith("2026-03-01T12:30")  # the row as exported, before the repair


def test_every_later_state_is_raised_to_the_latest_before_it(tables, write):
    tables["orders"][0].update(paid_at=T0 - 2 * H, shipped_at=T0 + 3 * H, delivered_at=T0 + 2 * H)

    kept = order(load_snapshot(write(tables), reject_limit=0.0), "o1")

    assert (kept["paid_at"], kept["shipped_at"], kept["delivered_at"]) == (T0, T0 + 3 * H, T0 + 3 * H)


def test_a_marketplace_export_with_a_few_percent_out_of_order_does_not_stop_the_run(tables, write):
    base = tables["orders"][0]
    tables["orders"] = [
        base | {"order_id": f"x{i}", "shipped_at": T0 + 0.5 * H if i < 14 else T0 + 2 * H} for i in range(1000)
    ]
    tables["payment_attempts"] = []  # 1.4% of orders out of order, over the default limit of 1%

    result = load_snapshot(write(tables))  # the default limit and actions

    assert result.counts["orders"] == {"rows": 1000, "rejected": 0}
    assert result.repaired["orders"] == 14
    with pytest.raises(RejectLimitExceeded, match=r"orders: 14 of 1000 rows rejected \(1\.40%\).*--reject-limit"):
        load_snapshot(write(tables), actions={"orders.states_in_order": RuleAction.REJECT})


@pytest.mark.parametrize(
    ("rule", "changes", "fixed"),
    [
        ("orders.cancelled_after_placed", {"cancelled_at": T0 - H}, {"cancelled_at": T0}),
        ("orders.reason_only_if_cancelled", {"cancel_reason": "changed_mind"}, {"cancel_reason": None}),
    ],
)
def test_a_rule_rejects_by_default_and_repairs_when_told(tables, write, rule, changes, fixed):
    index = 1 if rule == "orders.cancelled_after_placed" else 3  # o2 (cancelled), o4 (not cancelled)
    key = f"o{index + 1}"
    tables["orders"][index].update(changes)
    directory = write(tables)

    rejected = load_snapshot(directory, reject_limit=1.0)
    repaired = load_snapshot(directory, reject_limit=1.0, actions={rule: RuleAction.REPAIR})

    wording = f"orders breaks: {REPAIRS[rule].check}"
    assert [line for line in lines(rejected) if line[0] == "orders"] == [("orders", key, wording, "rejected")]
    assert [line for line in lines(repaired) if line[0] == "orders"] == [("orders", key, wording, "repaired")]
    kept = order(repaired, key)
    assert {column: kept[column] for column in fixed} == fixed


def test_a_repaired_row_that_breaks_another_rule_is_still_rejected(tables, write):
    tables["orders"][0].update(shipped_at=T0 + 0.5 * H, amount_usd=-1.0)

    result = load_snapshot(write(tables), reject_limit=1.0)

    assert [line for line in lines(result) if line[0] == "orders"] == [
        ("orders", "o1", "orders.amount_usd < 0", "rejected"),
        ("orders", "o1", STATES, "repaired"),
    ]
    assert "o1" not in result.snapshot.orders["order_id"].to_list()


# -- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "line\nbreak", "\x7f", "x" * 257, ""])
def test_an_id_with_a_control_character_or_out_of_length_is_rejected(tables, write, bad):
    tables["accounts"][0]["account_id"] = bad
    for row in tables["orders"] + tables["payment_attempts"]:
        if row["account_id"] == "a1":
            row["account_id"] = bad

    result = load_snapshot(write(tables), reject_limit=1.0)

    assert ("accounts", bad, r"accounts.account_id does not match ^[^\x00-\x1f\x7f-\x9f]{1,256}$", "rejected") in lines(
        result
    )
    assert bad not in result.snapshot.accounts["account_id"].to_list()
    assert "a1" not in result.snapshot.orders["account_id"].to_list()


def test_ids_in_any_language_are_fine(tables, write):
    tables["accounts"][0]["account_id"] = "买家-ß-🛒"
    tables["orders"][0]["account_id"] = "买家-ß-🛒"

    assert load_snapshot(write(tables), reject_limit=0.0).rejects.is_empty()


# -- rejects that name their cause ---------------------------------------------------------------


def test_an_empty_parent_table_is_named_as_the_problem(tables, write):
    tables["orders"] = []

    with pytest.raises(InputError, match=r"^orders: the table is empty while payment_attempts has 4 rows"):
        load_snapshot(write(tables))


def test_over_the_limit_every_table_is_checked_and_its_rejects_handed_over(tables, write):
    tables["accounts"][0]["country"] = "Germany"  # a1: 1 of 3 accounts, and its order o1 and attempt p1

    with pytest.raises(RejectLimitExceeded) as stopped:
        load_snapshot(write(tables), reject_limit=0.2)

    message = str(stopped.value)
    assert message.startswith("accounts: 1 of 3 rows rejected (33.33%), over the limit of 20.00%")
    assert (
        "orders: 1 of 4 rows rejected (25.00%)" in message
        and "orders.account_id refers to a rejected accounts row" in message
    )
    assert message.endswith("(raise --reject-limit, now 0.2, to accept them, or fix the export)")
    assert stopped.value.rejects.select("table", "key").rows() == [
        ("accounts", "a1"),
        ("orders", "o1"),
        ("payment_attempts", "p1"),
    ]

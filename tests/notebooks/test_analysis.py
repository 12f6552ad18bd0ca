"""pipeline.analysis, the notebooks' API, on frames small enough to check by eye."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import polars as pl
import pytest

from pipeline import analysis, review_db
from contract.tables import polars_schema
from pipeline.errors import InputError
from pipeline.snapshot import Snapshot

AS_OF = date(2026, 3, 10)
T = datetime(2026, 3, 11, tzinfo=UTC)  # the end of AS_OF
H = timedelta(hours=1)


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(table)
    return pl.DataFrame([dict.fromkeys(schema) | row for row in rows], schema=schema)


def order(order_id: str, account_id: str = "a1", placed: datetime = T - 48 * H, **states) -> dict:
    return dict(order_id=order_id, account_id=account_id, seller_id="s1", item_id="i1", placed_at=placed,
                amount_usd=10.0, discount_usd=0.0, item_count=1, ship_country="DE") | states


def market(orders: list[dict], labels: list[dict] | None = None) -> Snapshot:
    ids = ("a1", "a2", "m1", "m2", "m3", "m4", "m5")
    accounts = frame("accounts", [dict(account_id=a, created_at=T - 900 * H, country="DE") for a in ids])
    return Snapshot(
        accounts=accounts,
        orders=frame("orders", orders),
        payment_attempts=frame("payment_attempts", []),
        sessions=None,
        labels=None if labels is None else frame("labels", labels),
    )


# -- account_orders -----------------------------------------------------------------------------


def test_account_orders_name_cause_and_stage_as_known_at_the_end_of_the_day():
    snap = market([
        order("o1", paid_at=T - 47 * H, shipped_at=T - 40 * H, delivered_at=T - 20 * H),
        order("o2", cancelled_at=T - 47 * H, cancel_initiator="buyer", cancel_reason="changed_mind"),
        order("o3", paid_at=T - 47 * H, cancelled_at=T - 46 * H, cancel_initiator="seller", cancel_reason="out_of_stock"),
        order("o4", paid_at=T - 47 * H, shipped_at=T - 45 * H, cancelled_at=T - 10 * H, cancel_initiator="logistics",
              cancel_reason="customs_hold"),
        # paid before the cancel, but the payment comes after the as-of end: unknown then, so before payment
        order("o5", paid_at=T + H, cancelled_at=T - H, cancel_initiator="payment", cancel_reason="payment_timeout"),
        # cancelled after the as-of end: not cancelled yet as far as the day knows
        order("o6", cancelled_at=T + H, cancel_initiator="buyer", cancel_reason="changed_mind"),
        order("o7", placed=T + H),  # placed after the as-of end: absent
        order("o8", account_id="a2"),  # another account
    ])
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


# -- the queue ----------------------------------------------------------------------------------


def reasons(*features: str, ring: tuple[str, int] | None = None) -> str:
    items = [{"feature": f, "value": 1.0, "contribution": 0.5, "percentile": 99.0, "typical": 0.0, "text": f"{f} is high"}
             for f in features]
    if ring:
        ring_id, size = ring
        items.append({"feature": "ring_evidence", "ring_id": ring_id, "value": size, "text": f"ring {ring_id} of {size} accounts"})
    return json.dumps(items)


@pytest.fixture
def review(tmp_path):
    engine = review_db.connect(f"sqlite:///{tmp_path / 'review.db'}")
    review_db.write_queue(engine, AS_OF, pd.DataFrame({
        "account_id": ["m1", "m2", "m5"],
        "score": [0.9, 0.8, 0.7],
        "rank": [1, 2, 4],
        "model_version": "buyer-abuse/1",
        "reasons": [reasons("fast_buyer_cancels_30d", ring=("R-m1", 5)), reasons("account_age_days", ring=("R-m1", 5)),
                    reasons("failed_payment_share_30d")],
        "ring_id": ["R-m1", "R-m1", None],
    }))
    return engine


def test_queue_parses_reasons_and_adds_the_accounts_country(review):
    q = analysis.queue(review, data=market([]))  # the latest date in the table
    assert q["account_id"].tolist() == ["m1", "m2", "m5"]
    assert q["reason_features"].tolist() == [["fast_buyer_cancels_30d"], ["account_age_days"], ["failed_payment_share_30d"]]
    assert q["ring_size"].tolist()[:2] == [5.0, 5.0] and pd.isna(q["ring_size"].iloc[2])
    assert q["why"].iloc[0] == "- fast_buyer_cancels_30d is high\n- ring R-m1 of 5 accounts"
    assert q["country"].tolist() == ["DE", "DE", "DE"]
    assert analysis.reason_counts(q)["feature"].iloc[0] == "ring_evidence"
    assert analysis.reasons_table(q, "m5")["feature"].tolist() == ["failed_payment_share_30d"]
    assert analysis.reasons_table(q, "nobody").empty


def test_filters_combine(review):
    q = analysis.queue(review, AS_OF, data=market([]))
    assert analysis.filter_queue(q, ring="R-m1")["account_id"].tolist() == ["m1", "m2"]
    assert analysis.filter_queue(q, reason="PAYMENT")["account_id"].tolist() == ["m5"]  # case-insensitive
    assert analysis.filter_queue(q, reason="ring R-m1", country=["DE", "FR"])["account_id"].tolist() == ["m1", "m2"]
    assert analysis.filter_queue(q, country="FR").empty
    assert analysis.filter_queue(q, status="open").shape[0] == 3


def test_member_status_without_any_decision_or_label(review):
    got = analysis.member_status(review, market([]), AS_OF, ["m2", "m4"])
    assert got["status"].tolist() == ["open", "not queued"]
    assert got["reviewed_at"].isna().all() and got["label"].isna().all()


def test_member_status_prefers_a_decision_then_todays_queue_then_a_label(review):
    review_db.record_verdict(review, "m1", AS_OF, "confirmed_abuse", "ana", note="farm")
    labels = [
        dict(account_id="m3", label="abuse", decided_at=T - 100 * H, source="chargeback"),
        dict(account_id="m5", label="legit", decided_at=T - 100 * H, source="review"),
        dict(account_id="m4", label="abuse", decided_at=T + H, source="review"),  # decided after the day: not in force
    ]
    got = analysis.member_status(review, market([], labels), AS_OF, ["m1", "m2", "m3", "m4", "m5"])
    assert got[["account_id", "status"]].values.tolist() == [
        ["m1", "confirmed_abuse"], ["m2", "open"], ["m3", "labelled abuse"], ["m4", "not queued"], ["m5", "open"],
    ]
    assert got.loc[0, ["reviewed_by", "note"]].tolist() == ["ana", "farm"]
    assert got.loc[2, "label_source"] == "chargeback"
    assert got["rank"].tolist()[:2] == [1, 2] and got["rank"].isna().tolist()[2:4] == [True, True]


# -- against the truth --------------------------------------------------------------------------

# a5 scores highest but is a confirmed abuser: the run never queues it, so it is left out.
POPULATION = pd.DataFrame({
    "account_id": ["a5", "a1", "a2", "a3", "a4", "a6"],
    "score": [0.95, 0.9, 0.8, 0.7, 0.6, 0.1],
    "buyer_cancels_60d": [9.0, 1.0, 5.0, 0.0, 4.0, 3.0],
    "cancel_rate": [0.95, 0.5, 0.2, 0.1, 0.9, 0.8],
    "orders": 1.0,
})
TRUTH = pd.DataFrame({
    "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
    "is_abuser": [True, False, True, False, True, True],
    "pattern": ["hoarding_ring", "heavy_buyer", "coupon_ring", "household", "hoarding_ring", "coupon_ring"],
    "group": None,
    "remote": [False, True, False, False, False, False],
})
LABELS = pd.DataFrame({"account_id": ["a5", "a4"], "label": ["abuse", "legit"], "decided_at": T - H})


def test_pattern_recall_at_k_for_the_model_and_the_baselines():
    got = analysis.pattern_recall(POPULATION, TRUTH, LABELS, k=2).set_index(["pattern", "ranker"])
    # top 2 without a5 -- model: a1, a2; buyer cancels: a2, a4; cancel rate: a4, a6
    assert got.loc[("hoarding_ring", "model"), ["abusers", "found", "recall"]].tolist() == [1, 1, 1.0]
    assert got.loc[("coupon_ring", "model"), "found"] == 0
    assert got.loc[("coupon_ring", "baseline: cancel_rate"), "recall"] == 0.5
    assert got.loc[("all abuse", "baseline: buyer_cancels_60d"), "found"] == 0
    assert got.loc[("all abuse", "model"), ["abusers", "found"]].tolist() == [3, 1]
    assert analysis.abusers_to_find(POPULATION[POPULATION["account_id"] != "a5"], TRUTH) == 3


def test_lookalike_false_positives_per_group_and_their_share_of_all_false_positives():
    got = analysis.lookalike_fp_share(POPULATION, TRUTH, LABELS, k=2).set_index(["group", "ranker"])
    assert got.loc[("remote-region buyers", "model"), ["accounts", "flagged", "share", "fp_share"]].tolist() == [1, 1, 1.0, 1.0]
    assert got.loc[("households", "model"), "flagged"] == 0
    assert got.loc[("households", "baseline: buyer_cancels_60d"), ["share", "fp_share"]].tolist() == [1.0, 0.5]
    assert got.loc[("all honest accounts", "baseline: cancel_rate"), ["accounts", "flagged"]].tolist() == [2, 1]
    assert "stock-out victims (flash_fan)" not in got.index.get_level_values("group")  # no such accounts here


# -- locations ----------------------------------------------------------------------------------


def test_a_relative_sqlite_url_is_made_absolute_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "review.db").touch()
    monkeypatch.chdir(tmp_path)
    assert analysis.sqlite_url("sqlite:///review.db") == f"sqlite:///{tmp_path / 'review.db'}"
    with pytest.raises(InputError, match="no SQLite database"):
        analysis.sqlite_url("sqlite:///../nowhere/review.db")
    assert analysis.sqlite_url("postgresql+psycopg://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"


def test_run_dir_is_the_latest_complete_run(tmp_path):
    for day, done in (("2026-03-09", True), ("2026-03-10", True), ("2026-03-11", False)):
        (tmp_path / f"as_of={day}").mkdir()
        if done:
            (tmp_path / f"as_of={day}" / "summary.json").write_text(json.dumps({"as_of": day}))
    assert analysis.run_dir(tmp_path).name == "as_of=2026-03-10"
    assert analysis.run_dir(tmp_path, "2026-03-09").name == "as_of=2026-03-09"
    assert analysis.run_as_of(analysis.run_dir(tmp_path)) == date(2026, 3, 10)
    with pytest.raises(InputError, match="no complete run"):
        analysis.run_dir(tmp_path, date(2026, 3, 11))

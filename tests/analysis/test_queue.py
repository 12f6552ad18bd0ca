"""pipeline.analysis.queue: a day's queue with its reasons parsed, and its filters."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from pipeline import analysis, review_db
from pipeline.analysis.queue import UNCLAIMED

from .frames import AS_OF, market


def test_queue_parses_reasons_and_adds_the_accounts_country(review):
    q = analysis.queue(review, data=market([]))  # the latest date in the table
    assert q["account_id"].tolist() == ["m1", "m2", "m5"]
    assert q["reason_features"].tolist() == [
        ["fast_buyer_cancels_30d"],
        ["account_age_days"],
        ["failed_payment_share_30d"],
    ]
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


def test_filters_by_score_range_and_by_who_holds_the_case(review):
    review_db.claim(review, "m2", AS_OF, "ana")
    q = analysis.queue(review, AS_OF)

    assert q["claimed_by"].isna().tolist() == [True, False, True]
    assert analysis.filter_queue(q, score_min=0.75)["account_id"].tolist() == ["m1", "m2"]
    assert analysis.filter_queue(q, score_min=0.75, score_max=0.85)["account_id"].tolist() == ["m2"]
    assert analysis.filter_queue(q, claimed_by="ana")["account_id"].tolist() == ["m2"]
    assert analysis.filter_queue(q, claimed_by=UNCLAIMED)["account_id"].tolist() == ["m1", "m5"]


@pytest.mark.parametrize("note", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_the_csv_export_makes_a_formula_like_cell_inert(review, note):
    review_db.record_verdict(review, "m1", AS_OF, "escalated", "ana", note=note)

    rows = list(csv.DictReader(io.StringIO(analysis.queue_csv(analysis.queue(review, AS_OF)))))

    assert rows[0]["note"] == "'" + note
    assert rows[0]["score"] == "0.9" and rows[0]["why"] == "fast_buyer_cancels_30d is high; ring R-m1 of 5 accounts"
    assert [r["account_id"] for r in rows] == ["m1", "m2", "m5"]

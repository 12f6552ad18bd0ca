"""pipeline.analysis.queue: a day's queue with its reasons parsed, and its filters."""

from __future__ import annotations

import pandas as pd

from pipeline import analysis

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

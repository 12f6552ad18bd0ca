"""models.backtest: the windows, the population the run would have scored at the cut, the later
labels that judge it, and the figures (the worked example of docs/model.md); models.unlabelled."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from models.backtest import Window, judge, later_labels, population, windows
from models.estimator import AbuseClassifier
from models.shift import tenure_shift
from models.unlabelled import downweighted

T = datetime(2026, 4, 1, tzinfo=UTC)
DAY = timedelta(days=1)
UTC_US = pl.Datetime("us", "UTC")
LABELS = {"account_id": pl.String, "label": pl.String, "decided_at": UTC_US, "source": pl.String}


def labels(*rows: tuple[str, str, datetime]) -> pl.DataFrame:
    return pl.DataFrame([(*row, "manual_review") for row in rows], schema=LABELS, orient="row")


def test_windows_need_enough_history_before_their_cut():
    first = T - 84 * DAY

    got = windows(T, (14, 28, 70), first, lead_days=21)

    assert got == [Window(T - 14 * DAY, T), Window(T - 28 * DAY, T)]  # 70 days leaves 14 days to train on
    assert [w.days for w in got] == [14, 28]


def test_the_population_is_the_active_accounts_not_confirmed_at_the_cut():
    cut = T - 14 * DAY
    features = pl.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "orders_90d": [1.0, 0.0, 2.0, 1.0, 0.0],
            "payment_attempts_90d": [0.0, 3.0, 0.0, 0.0, 0.0],  # b only failed payments: scored
            "sessions_90d": [None, None, None, None, 2.0],  # e only logged in: scored
        }
    )
    known = labels(("c", "abuse", cut - DAY), ("d", "abuse", cut + DAY))  # d is confirmed only later

    got = population(features, known, cut)

    assert got["account_id"].to_list() == ["a", "b", "d", "e"]


def test_later_labels_are_the_decisions_in_force_at_the_end_taken_inside_the_window():
    window = Window(T - 14 * DAY, T)
    known = labels(
        ("before", "abuse", T - 20 * DAY),
        ("inside", "abuse", T - 10 * DAY),
        ("cleared", "abuse", T - 20 * DAY),
        ("cleared", "legit", T - 5 * DAY),
        ("after", "abuse", T + DAY),
    )

    got = later_labels(known, window).sort("account_id").rows()

    assert got == [("cleared", 0), ("inside", 1)]
    assert later_labels(None, window).is_empty()


def scored(*ids: str) -> pl.DataFrame:
    """Accounts in rank order: the first gets the highest score."""
    return pl.DataFrame({"account_id": list(ids), "score": np.linspace(0.9, 0.1, len(ids))})


def test_judge_the_worked_example_of_the_model_doc():
    # Eight accounts scored at the cut; later, three were labelled abuse (a, d, g) and two legit
    # (b, e). Judged accounts in rank order: a(1) b(0) d(1) e(0) g(1); k = 3 -> a b d: P@k 2/3.
    ranking = scored("a", "b", "c", "d", "e", "f", "g", "h")
    later = pl.DataFrame(
        {"account_id": ["a", "d", "g", "b", "e"], "y": [1, 1, 1, 0, 0]}, schema_overrides={"y": pl.Int8}
    )

    got = judge(ranking, later, capacity=4)

    assert got["precision_at_k"] == pytest.approx(2 / 3)
    assert got["recall_at_capacity"] == pytest.approx(2 / 3)  # a and d among the first 4
    assert got["precision_at_capacity"] == pytest.approx(2 / 4)
    # AP against every other account: hits at ranks 1, 4, 7 -> (1/1 + 2/4 + 3/7) / 3
    assert got["average_precision"] == pytest.approx((1 + 2 / 4 + 3 / 7) / 3)
    assert (got["population"], got["later_abuse_labels"]) == (8.0, 3.0)


def test_judge_ranks_ties_as_the_run_does_not_by_the_rows_order():
    later = pl.DataFrame({"account_id": ["x", "y"], "y": [1, 0]}, schema_overrides={"y": pl.Int8})
    tied = pl.DataFrame({"account_id": ["y", "x"], "score": [0.5, 0.5]})

    assert judge(tied, later, 1) == judge(tied.reverse(), later, 1)


def test_judge_without_a_later_abuse_label_has_no_figures():
    got = judge(scored("a", "b"), pl.DataFrame({"account_id": ["a"], "y": [0]}, schema_overrides={"y": pl.Int8}), 1)

    assert math.isnan(got["precision_at_k"]) and math.isnan(got["average_precision"])


def test_presumed_legit_rows_that_look_like_abusers_weigh_less():
    rng = np.random.default_rng(0)
    n = 400
    signal = rng.random(n)
    labelled = rng.random(n) < 0.5
    y = (labelled & (signal > 0.7)).astype(np.int8)  # labelled abusers have a high signal
    examples = pl.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(n)],
            "signal": signal,
            "noise": rng.random(n),
            "y": y,
            "weight": np.ones(n),
            "labelled": labelled,
        }
    )

    got = downweighted(examples, AbuseClassifier(n_estimators=50, min_child_samples=10, bags=1), ["signal", "noise"])

    presumed = got.filter(~pl.col("labelled"))
    looks_abusive = presumed.filter(pl.col("signal") > 0.8)["weight"].mean()
    looks_ordinary = presumed.filter(pl.col("signal") < 0.5)["weight"].mean()
    assert looks_abusive < 0.5 * looks_ordinary
    assert (got.filter("labelled")["weight"] == 1.0).all()  # labelled rows keep their weight
    assert (got["weight"] <= 1.0).all()


def test_tenure_shift_flags_positives_younger_than_the_queue():
    positives = pl.DataFrame({"account_age_days": [3.0, 4.0, 5.0, 6.0], "last_order_days_ago": [1.0, 2.0, 1.5, None]})
    queue = pl.DataFrame({"account_age_days": [80.0, 90.0, 100.0], "last_order_days_ago": [1.0, 2.0, 1.5]})

    got = {row["feature"]: row for row in tenure_shift(positives, queue)}

    assert set(got) == {"account_age_days", "last_order_days_ago"}  # first_order_days_ago is absent
    assert got["account_age_days"]["ks"] == 1.0 and got["account_age_days"]["shifted"]
    assert (got["account_age_days"]["positives_median"], got["account_age_days"]["queue_median"]) == (4.5, 90.0)
    assert not got["last_order_days_ago"]["shifted"]  # the unknown value is left out, not counted as 0

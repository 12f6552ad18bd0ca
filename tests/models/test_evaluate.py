"""models.evaluate: precision and recall at review capacity k, the ranking they read (ties broken
explicitly), and the metric set a training run logs, naive baselines included."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from models.evaluate import precision_at_k, ranked, ranking_metrics, recall_at_k

# Five accounts; the model ranks them 0.9 (abuse), 0.8, 0.7 (abuse), 0.2, 0.1.
Y = np.array([1, 0, 1, 0, 0])
SCORE = np.array([0.9, 0.8, 0.7, 0.1, 0.2])


def test_ranked_orders_by_score_then_higher_tiebreak_then_input_order():
    ids = np.array([10, 11, 12, 13])  # ranked() reorders any array: ids make the order visible
    score = np.array([0.5, 0.9, 0.5, 0.5])

    assert ranked(ids, score).tolist() == [11, 10, 12, 13]
    assert ranked(ids, score, tiebreak=np.array([1.0, 0.0, 3.0, 3.0])).tolist() == [11, 12, 13, 10]


@pytest.mark.parametrize(
    ("k", "precision", "recall"),
    [(1, 1.0, 0.5), (2, 0.5, 0.5), (3, 2 / 3, 1.0), (5, 0.4, 1.0), (10, 0.4, 1.0)],  # k=10 > rows: all five rows
)
def test_precision_and_recall_at_k(k, precision, recall):
    assert precision_at_k(Y, SCORE, k) == pytest.approx(precision)
    assert recall_at_k(Y, SCORE, k) == pytest.approx(recall)


def test_ties_at_the_cut_are_broken_by_the_tiebreak_not_by_luck():
    y, score = np.array([0, 1]), np.array([0.5, 0.5])

    assert precision_at_k(y, score, 1) == 0.0  # no tiebreak: input order
    assert precision_at_k(y, score, 1, tiebreak=np.array([2.0, 5.0])) == 1.0
    assert recall_at_k(y, score, 1, tiebreak=np.array([2.0, 5.0])) == 1.0


def test_undefined_cases_are_nan_not_zero():
    assert math.isnan(recall_at_k(np.array([0, 0]), np.array([0.3, 0.1]), 1))  # no abuser to find
    assert math.isnan(precision_at_k(np.array([], dtype=int), np.array([]), 3))  # nothing ranked


def validation_frame() -> pl.DataFrame:
    """Six validation examples: the model ranks both abusers first; the naive rules do not.
    `c` ties `b` on cancel rate but has more orders, so the cancel-rate rule ranks `c` first."""
    return pl.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e", "f"],
            "y": [1, 1, 0, 0, 0, 0],
            "score": [0.9, 0.8, 0.7, 0.2, 0.1, 0.3],
            "buyer_cancels_60d": [0.0, 3.0, 5.0, 1.0, None, 0.0],
            "cancel_rate": [0.1, 0.9, 0.9, 0.5, None, 0.0],
            "orders": [5.0, 2.0, 10.0, 1.0, None, 3.0],
        }
    )


def test_ranking_metrics_names_every_figure_of_the_model_and_of_each_baseline():
    metrics = ranking_metrics(validation_frame(), k=2)

    figures = ("precision_at_k", "recall_at_k", "pr_auc")
    assert set(metrics) == {
        "k",
        "examples",
        "positives",
        "lift_over_best_baseline",
        *figures,
        *(f"baseline_{b}_{f}" for b in ("buyer_cancels_60d", "cancel_rate") for f in figures),
    }
    assert (metrics["k"], metrics["examples"], metrics["positives"]) == (2.0, 6.0, 2.0)
    assert (metrics["precision_at_k"], metrics["recall_at_k"], metrics["pr_auc"]) == (1.0, 1.0, 1.0)
    # buyer cancels: c (5), b (3); cancel rate: c and b tie at 0.9, c has more orders.
    assert metrics["baseline_buyer_cancels_60d_precision_at_k"] == 0.5
    assert metrics["baseline_cancel_rate_precision_at_k"] == 0.5
    assert metrics["lift_over_best_baseline"] == pytest.approx(2.0)


def test_lift_is_nan_when_every_baseline_finds_nothing():
    metrics = ranking_metrics(validation_frame(), k=1)

    assert metrics["precision_at_k"] == 1.0
    # Without the orders tiebreak the cancel-rate rule would put b (an abuser) first.
    assert metrics["baseline_cancel_rate_precision_at_k"] == 0.0
    assert metrics["baseline_buyer_cancels_60d_precision_at_k"] == 0.0
    assert math.isnan(metrics["lift_over_best_baseline"])

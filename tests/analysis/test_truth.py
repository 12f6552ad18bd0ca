"""pipeline.analysis.truth: a run's ranking judged against a simulator's truth, beside the baselines."""

from __future__ import annotations

import pandas as pd

from pipeline import analysis

from .frames import H, T

# a5 scores highest but is a confirmed abuser: the run never queues it, so it is left out.
POPULATION = pd.DataFrame(
    {
        "account_id": ["a5", "a1", "a2", "a3", "a4", "a6"],
        "score": [0.95, 0.9, 0.8, 0.7, 0.6, 0.1],
        "buyer_cancels_60d": [9.0, 1.0, 5.0, 0.0, 4.0, 3.0],
        "cancel_rate": [0.95, 0.5, 0.2, 0.1, 0.9, 0.8],
        "orders": 1.0,
    }
)
TRUTH = pd.DataFrame(
    {
        "account_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
        "is_abuser": [True, False, True, False, True, True],
        "pattern": ["hoarding_ring", "heavy_buyer", "coupon_ring", "household", "hoarding_ring", "coupon_ring"],
        "group": None,
        "remote": [False, True, False, False, False, False],
    }
)
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
    assert got.loc[("remote-region buyers", "model"), ["accounts", "flagged", "share", "fp_share"]].tolist() == [
        1,
        1,
        1.0,
        1.0,
    ]
    assert got.loc[("households", "model"), "flagged"] == 0
    assert got.loc[("households", "baseline: buyer_cancels_60d"), ["share", "fp_share"]].tolist() == [1.0, 0.5]
    assert got.loc[("all honest accounts", "baseline: cancel_rate"), ["accounts", "flagged"]].tolist() == [2, 1]
    assert "stock-out victims (flash_fan)" not in got.index.get_level_values("group")  # no such accounts here

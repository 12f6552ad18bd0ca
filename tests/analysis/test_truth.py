"""pipeline.analysis.truth: a run's ranking judged against a simulator's truth, beside the baselines."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

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
    assert got.loc[("household", "model"), "flagged"] == 0
    assert got.loc[("household", "baseline: buyer_cancels_60d"), ["share", "fp_share"]].tolist() == [1.0, 0.5]
    assert got.loc[("all honest accounts", "baseline: cancel_rate"), ["accounts", "flagged"]].tolist() == [2, 1]
    # The groups are the truth's honest patterns (a4's household, a2's heavy_buyer) with the
    # remote-region buyers first and all honest accounts last: none for a pattern it lacks.
    assert list(dict.fromkeys(got.index.get_level_values("group"))) == [
        "remote-region buyers",
        "heavy_buyer",
        "household",
        "all honest accounts",
    ]


def test_lookalike_groups_are_whatever_honest_patterns_the_truth_names():
    # Another simulator's truth: its own pattern names, and no `remote` column.
    truth = TRUTH.drop(columns="remote").assign(
        pattern=["ring_a", "night_owl", "ring_b", "bargain_hunter", "ring_a", "ring_b"]
    )
    got = analysis.lookalike_fp_share(POPULATION, truth, LABELS, k=2)
    assert list(dict.fromkeys(got["group"])) == ["bargain_hunter", "night_owl", "all honest accounts"]
    model = got[got["ranker"] == "model"].set_index("group")
    assert model.loc["night_owl", ["accounts", "flagged"]].tolist() == [1, 1]  # a2, ranked second
    recall = analysis.pattern_recall(POPULATION, truth, LABELS, k=2)
    assert list(dict.fromkeys(recall["pattern"])) == ["ring_a", "ring_b", "all abuse"]


def test_a_remote_column_that_is_not_boolean_makes_no_remote_group():
    truth = TRUTH.assign(remote=["no", "yes", "no", "no", "no", "no"])
    got = analysis.lookalike_fp_share(POPULATION, truth, LABELS, k=2)
    assert "remote-region buyers" not in set(got["group"])


def simulator_patterns() -> tuple[tuple[str, ...], Path]:
    """The simulator's pattern names and the file that declares them: the top-level simulator
    package, or pipeline/simulate.py in a tree from before the simulator moved out."""
    try:
        import simulator as module
    except ImportError:
        import pipeline.simulate as module
    return tuple(module.PATTERNS), Path(inspect.getfile(module)).resolve()


def test_no_module_of_pipeline_names_a_simulator_pattern():
    # The notebooks' API reads pattern names from the truth file; a name written into the
    # package would silently miss the groups of any other simulator or of a renamed pattern.
    patterns, simulator_file = simulator_patterns()
    assert patterns
    root = Path(analysis.__file__).resolve().parents[1]  # pipeline/
    found = [
        f"{path.relative_to(root.parent)}:{number}: {name}"
        for path in sorted(root.rglob("*.py"))
        if path != simulator_file  # the simulator itself, where it still lives in pipeline/
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for name in patterns
        if re.search(rf"\b{re.escape(name)}\b", line)
    ]
    assert not found, found

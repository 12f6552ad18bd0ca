"""models.dataset: labels in force at an instant, the point-in-time join of labels to feature
snapshots, the train/gap/validation split, and the presumed-legit sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from models.dataset import (
    TrainingConfig,
    attach_snapshots,
    labels_in_force,
    merge_labels,
    presumed_legit,
    snapshot_times,
    split,
    training_examples,
)

T = datetime(2026, 4, 1, tzinfo=UTC)  # the training instant of `train --as-of 2026-03-31`
US, SEC, DAY = timedelta(microseconds=1), timedelta(seconds=1), timedelta(days=1)
UTC_US = pl.Datetime("us", "UTC")
LABELS = {"account_id": pl.String, "label": pl.String, "decided_at": UTC_US, "source": pl.String}


def labels(*rows: tuple[str, str, datetime], source: str = "manual_review") -> pl.DataFrame:
    return pl.DataFrame([(*row, source) for row in rows], schema=LABELS, orient="row")


def in_force(frame: pl.DataFrame, t: datetime = T) -> list[tuple]:
    return labels_in_force(frame, t).sort("account_id").select("account_id", "label", "decided_at").rows()


def test_snapshot_times_end_at_the_training_instant_oldest_first():
    cfg = TrainingConfig(cadence_days=7, history_days=21)

    assert snapshot_times(T, cfg) == [T - 21 * DAY, T - 14 * DAY, T - 7 * DAY, T]


def test_labels_in_force_the_latest_decision_before_t_wins():
    frame = labels(
        ("a", "legit", T - 10 * DAY),
        ("a", "abuse", T - 2 * DAY),  # re-reviewed: abuse now
        ("b", "abuse", T - 5 * DAY),
        ("b", "legit", T),  # cleared exactly at t: not known yet
        ("c", "abuse", T + DAY),  # decided after t
        ("d", "abuse", T - 20 * DAY),
        ("d", "legit", T - US),  # a wrong verdict corrected just before t
    )

    assert in_force(frame) == [
        ("a", "abuse", T - 2 * DAY),
        ("b", "abuse", T - 5 * DAY),
        ("d", "legit", T - US),
    ]
    assert in_force(frame, T - 6 * DAY) == [("a", "legit", T - 10 * DAY), ("d", "abuse", T - 20 * DAY)]


def test_attach_snapshots_takes_the_latest_snapshot_at_or_before_the_decision():
    times = [T - 14 * DAY, T - 7 * DAY, T]
    examples = pl.DataFrame(
        {
            "account_id": ["p", "q", "r", "s", "u"],
            "decided_at": [T - 14 * DAY, T - 8 * DAY, T - 7 * DAY + SEC, T - 14 * DAY - US, T - US],
        },
        schema={"account_id": pl.String, "decided_at": UTC_US},
    )

    got = attach_snapshots(examples, times).sort("account_id")

    assert got.select("account_id", "snapshot_at").rows() == [
        ("p", T - 14 * DAY),  # a snapshot at the decision instant counts
        ("q", T - 14 * DAY),
        ("r", T - 7 * DAY),
        ("u", T - 7 * DAY),  # never the snapshot after the decision
    ]  # s, decided before the first snapshot, has no features of its time: dropped


@pytest.mark.parametrize(
    ("decided_at", "part"),
    [
        (T - 28 * DAY - US, "train"),
        (T - 28 * DAY, None),  # the gap: label maturity
        (T - 21 * DAY - US, None),
        (T - 21 * DAY, "valid"),
        (T - US, "valid"),
    ],
)
def test_split_leaves_a_gap_before_the_validation_window(decided_at, part):
    cfg = TrainingConfig(valid_days=21, gap_days=7)
    examples = pl.DataFrame({"decided_at": [decided_at]}, schema={"decided_at": UTC_US})

    assert split(examples, T, cfg)["part"].to_list() == [part]


def features(f1: float = 1.0) -> pl.DataFrame:
    """Five accounts as a snapshot's feature table: c is inactive (no order nor attempt in 90 days)."""
    return pl.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "orders_90d": [2.0, 0.0, 0.0, 3.0, 1.0],
            "payment_attempts_90d": [0.0, 1.0, 0.0, 0.0, 1.0],
            "f1": [f1] * 5,
        }
    )


def test_presumed_legit_are_active_accounts_without_a_label_in_force():
    cfg = TrainingConfig(unlabelled_per_snapshot=10)

    got = presumed_legit(features(), T, pl.Series(["d"]), cfg, seed=0)

    assert got["account_id"].to_list() == ["a", "b", "e"]  # not c (inactive), not d (labelled)


def test_presumed_legit_sample_is_deterministic_for_a_seed():
    cfg = TrainingConfig(unlabelled_per_snapshot=2)
    labelled = pl.Series(["d"], dtype=pl.String)

    samples = {seed: tuple(presumed_legit(features(), T, labelled, cfg, seed)["account_id"]) for seed in range(12)}

    assert all(len(s) == 2 and set(s) <= {"a", "b", "e"} for s in samples.values())
    assert samples[3] == tuple(presumed_legit(features(), T, labelled, cfg, seed=3)["account_id"])
    assert len(set(samples.values())) > 1  # but it is a random sample


def test_presumed_legit_is_empty_when_its_weight_is_zero():
    cfg = TrainingConfig(unlabelled_per_snapshot=10, unlabelled_weight=0.0)

    got = presumed_legit(features(), T, pl.Series([], dtype=pl.String), cfg, seed=0)

    assert got.is_empty()
    assert got.columns == features().columns


def test_training_examples_join_labels_point_in_time_and_weight_the_presumed_legit():
    # Snapshots 35 days before t (training side of the gap) and at t (validation side).
    s1, s2 = T - 35 * DAY, T
    snapshots = {s1: features(f1=1.0), s2: features(f1=2.0)}
    cfg = TrainingConfig(valid_days=21, gap_days=7, unlabelled_per_snapshot=10, unlabelled_weight=0.2)

    got = training_examples(snapshots, labels(("d", "abuse", T - 30 * DAY)), T, cfg)

    rows = got.sort("account_id", "snapshot_at").select(
        "account_id", "snapshot_at", "f1", "y", "weight", "presumed", "part"
    )
    assert rows.rows() == [
        ("a", s1, 1.0, 0, 0.2, True, "train"),
        ("a", s2, 2.0, 0, 0.2, True, "valid"),
        ("b", s1, 1.0, 0, 0.2, True, "train"),
        ("b", s2, 2.0, 0, 0.2, True, "valid"),
        ("d", s1, 1.0, 1, 1.0, False, "train"),  # features of the snapshot before its decision
        ("e", s1, 1.0, 0, 0.2, True, "train"),
        ("e", s2, 2.0, 0, 0.2, True, "valid"),
    ]


def test_training_examples_without_the_presumed_legit_sample():
    snapshots = {T - 35 * DAY: features(), T: features()}
    cfg = TrainingConfig(valid_days=21, gap_days=7, unlabelled_weight=0.0)

    got = training_examples(snapshots, labels(("d", "abuse", T - 30 * DAY), ("a", "legit", T - 2 * DAY)), T, cfg)

    assert got.sort("account_id").select("account_id", "y", "part").rows() == [("a", 0, "valid"), ("d", 1, "train")]


def test_merge_labels_puts_verdicts_beside_the_snapshot_labels():
    snapshot = labels(("a", "legit", T - 10 * DAY), ("b", "abuse", T - 9 * DAY)).with_columns(extra=pl.lit(1))
    verdicts = labels(("a", "abuse", T - 3 * DAY), source="review")

    merged = merge_labels(snapshot, verdicts)

    assert merged.columns == ["account_id", "label", "decided_at", "source"]
    assert merged.height == 3
    assert in_force(merged) == [("a", "abuse", T - 3 * DAY), ("b", "abuse", T - 9 * DAY)]  # the later verdict wins
    assert_frame_equal(merge_labels(snapshot, None), snapshot.drop("extra"))
    assert_frame_equal(merge_labels(None, verdicts), verdicts)
    assert merge_labels(None, None) is None


def test_labels_decided_in_the_validation_window_do_not_clean_the_training_sample():
    """An abuser labelled after the cut was unknown when the model was (notionally) trained: at a
    training snapshot it may be drawn as presumed legit, like any other unlabelled account."""
    s1, s2 = T - 35 * DAY, T
    snapshots = {s1: features(f1=1.0), s2: features(f1=2.0)}
    cfg = TrainingConfig(valid_days=21, gap_days=7, unlabelled_per_snapshot=10, unlabelled_weight=0.2)

    got = training_examples(snapshots, labels(("d", "abuse", T - 5 * DAY)), T, cfg)

    presumed = got.filter("presumed").sort("snapshot_at", "account_id").select("account_id", "part").rows()
    assert ("d", "train") in presumed  # unknown at the cut
    assert ("d", "valid") not in presumed  # known by the validation snapshot
    assert got.filter(~pl.col("presumed")).select("account_id", "y", "part").rows() == [("d", 1, "valid")]

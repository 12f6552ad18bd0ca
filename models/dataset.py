"""Training examples joined point-in-time to feature snapshots.

Each labelled account contributes one example: its label in force at the training instant
(the latest decision), joined to the features of the latest snapshot taken at or before that
decision, so nothing analysts learned later reaches the example. Snapshots are taken at a
regular cadence ending at the training instant.

Unlabelled accounts are *not* silently treated as honest. Most abusers are never labelled, so
an unlabelled account is an unknown. They still matter: the labelled legit accounts are mostly
suspicious-looking buyers that were reviewed and cleared, so without any other negatives the
model would never see an ordinary buyer. The choice made here: a random sample of unlabelled
accounts active at each snapshot joins the training data as *presumed legit*, with a small
weight (``TrainingConfig.unlabelled_weight``, default 0.2, 0 turns it off) and its own marker
column, so the contamination by unlabelled abusers (a few percent) costs little and every
metric on labelled data stays separate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from features.labels import labels_in_force
from models.population import is_active


@dataclass(frozen=True)
class TrainingConfig:
    cadence_days: int = 7  # feature snapshots every this many days, ending at the training instant
    history_days: int = 91  # how far back snapshots (and so labels) reach
    valid_days: int = 21  # labels decided in the last this many days validate ...
    gap_days: int = 7  # ... and labels decided in the gap before them are left out (label maturity)
    unlabelled_per_snapshot: int = 2000  # presumed-legit sample size per snapshot
    unlabelled_weight: float = 0.2
    seed: int = 0

    def validation_window(self, t: datetime) -> tuple[datetime, datetime]:
        """(cut, valid_from) for training at t: labels decided before `cut` train, those decided
        from `valid_from` on validate, and those in the gap between are left out."""
        valid_from = t - timedelta(days=self.valid_days)
        return valid_from - timedelta(days=self.gap_days), valid_from


def snapshot_times(t: datetime, cfg: TrainingConfig) -> list[datetime]:
    """Snapshot instants t, t - cadence, ... back to t - history_days, oldest first."""
    count = cfg.history_days // cfg.cadence_days + 1
    return [t - timedelta(days=cfg.cadence_days * i) for i in reversed(range(count))]


def attach_snapshots(examples: pl.DataFrame, times: list[datetime]) -> pl.DataFrame:
    """Adds snapshot_at: the latest snapshot at or before each example's decided_at (examples
    decided before the first snapshot are dropped: there are no features of that time)."""
    snaps = pl.DataFrame({"snapshot_at": times}).with_columns(pl.col("snapshot_at").cast(pl.Datetime("us", "UTC")))
    return (
        examples.sort("decided_at")
        .join_asof(snaps.sort("snapshot_at"), left_on="decided_at", right_on="snapshot_at", strategy="backward")
        .filter(pl.col("snapshot_at").is_not_null())
    )


def split(examples: pl.DataFrame, t: datetime, cfg: TrainingConfig) -> pl.DataFrame:
    """Adds `part`: "train" for examples decided before the cut, "valid" after the gap, None in
    the gap. Presumed-legit examples split by their snapshot time the same way."""
    cut, valid_from = cfg.validation_window(t)
    when = pl.col("decided_at")
    return examples.with_columns(
        part=pl.when(when < cut).then(pl.lit("train")).when(when >= valid_from).then(pl.lit("valid")).otherwise(None)
    )


def presumed_legit(
    features: pl.DataFrame, snapshot_at: datetime, labelled: pl.Series, cfg: TrainingConfig, seed: int
) -> pl.DataFrame:
    """A random sample of the accounts active at the snapshot and not in `labelled`, as
    weighted presumed-legit examples (see module docstring)."""
    pool = features.filter(is_active() & ~pl.col("account_id").is_in(labelled.implode()))
    size = min(cfg.unlabelled_per_snapshot, pool.height)
    if size == 0 or cfg.unlabelled_weight <= 0:
        return pool.clear()
    idx = np.random.default_rng(seed).choice(pool.height, size=size, replace=False)
    return pool[np.sort(idx)]


def merge_labels(labels: pl.DataFrame | None, verdicts: pl.DataFrame | None) -> pl.DataFrame | None:
    """Labels from the snapshot and analysts' verdicts (same columns) as one table; the latest
    decision per account is the one in force (`labels_in_force`)."""
    frames = [f.select("account_id", "label", "decided_at", "source") for f in (labels, verdicts) if f is not None]
    return pl.concat(frames) if frames else None


def training_examples(
    snapshots: dict[datetime, pl.DataFrame], labels: pl.DataFrame | None, t: datetime, cfg: TrainingConfig
) -> pl.DataFrame:
    """Every example of every snapshot: the feature columns plus account_id, snapshot_at,
    decided_at, label, y (1 = abuse), weight, presumed (True for the presumed-legit sample)
    and part ("train" or "valid"; examples in the gap are dropped)."""
    in_force = (
        labels_in_force(labels, t)
        if labels is not None
        else pl.DataFrame(schema={"account_id": pl.String, "label": pl.String, "decided_at": pl.Datetime("us", "UTC")})
    )
    examples = split(attach_snapshots(in_force, list(snapshots)), t, cfg)
    cut, _ = cfg.validation_window(t)
    utc = pl.Datetime("us", "UTC")
    parts = []
    for i, (at, features) in enumerate(snapshots.items()):
        labelled = features.join(examples.filter(pl.col("snapshot_at") == at), on="account_id")
        parts.append(
            labelled.with_columns(
                y=(pl.col("label") == "abuse").cast(pl.Int8), weight=pl.lit(1.0), presumed=pl.lit(False)
            )
        )
        # Only labels known when the model is (notionally) trained keep an account out of the
        # sample: for a training snapshot those decided before the cut. An abuser labelled in the
        # validation window must stay as unknown to training as it was, or validation flatters.
        known = (
            labels_in_force(labels, cut if at <= cut else t)["account_id"]
            if labels is not None
            else in_force["account_id"]
        )
        sample = presumed_legit(features, at, known, cfg, seed=cfg.seed + i)
        parts.append(
            split(
                sample.with_columns(
                    label=pl.lit("legit"),
                    decided_at=pl.lit(at).cast(utc),
                    snapshot_at=pl.lit(at).cast(utc),
                    y=pl.lit(0, pl.Int8),
                    weight=pl.lit(cfg.unlabelled_weight),
                    presumed=pl.lit(True),
                ),
                t,
                cfg,
            )
        )
    return pl.concat(parts, how="diagonal_relaxed").filter(pl.col("part").is_not_null())

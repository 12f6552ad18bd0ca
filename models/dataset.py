"""Training examples drawn the way the nightly run scores: accounts at cut-offs, labelled with
what is known when the model is trained.

The rule (docs/model.md, "Training examples"):

* **Cut-offs.** Every `cadence_days` back from the training instant T, over `history_days`.
  Only cut-offs at least `maturity_days` old are drawn: an account's label may still be on
  its way at a younger one.
* **Who.** At each cut-off c, the accounts scoring would consider at c: the population of
  ``models.population`` (an order, a payment attempt or a session in the lookback window),
  with their features as of c. So positives carry the history an abuser has when it is scored,
  not the few days it had when a reviewer first acted.
* **Which label.** The label known at T: each account's decision in force at T (the latest
  decided before T; corrections win). A row at c takes that label even when it was decided
  after c: it is what training knows, and the features at c saw nothing after c.
* **Not drawn.** Rows after an abuse decision that stopped the account. A label that bans
  leaves an account with no activity after it; its later rows would teach that going quiet is
  abuse. A label that did not stop the account (a chargeback, a policy flag: activity goes on)
  keeps its later rows, which look like the mature abusers the queue must rank.
* **Weights.** A labelled account's rows share a total weight of 1, in proportion to the
  evidence each carries (its orders and payment attempts so far, plus one): each account counts
  about once, and a row from before the account had done much counts little. Unlabelled
  accounts are not known to be honest (most abusers are never labelled): each is drawn as
  presumed legit once, at a random mature cut-off, at most `unlabelled_accounts` of them, with
  weight `unlabelled_weight` (models.unlabelled then lowers the weight of the ones that look
  like abusers). Last, the negatives of each cut-off are scaled so that every cut-off has the
  same ratio of negative to positive weight: *when* a row was drawn says nothing about its label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from contract.values import Label
from features.labels import labels_in_force
from models.population import is_active

UTC_US = pl.Datetime("us", "UTC")
EVIDENCE = ("orders", "payment_attempts")  # what an account has done by a cut-off: its row's weight


@dataclass(frozen=True)
class TrainingConfig:
    cadence_days: int = 7  # a cut-off every this many days, ending at the training instant
    history_days: int = 84  # how far back cut-offs reach
    maturity_days: int = 14  # rows are drawn only at cut-offs at least this old
    unlabelled_accounts: int = 60_000  # presumed-legit accounts drawn at most
    unlabelled_weight: float = 0.2  # the weight of one presumed-legit account; a labelled one weighs 1
    seed: int = 0


def cutoffs(t: datetime, cfg: TrainingConfig) -> list[datetime]:
    """Cut-off instants t, t - cadence, ... back to t - history_days, oldest first."""
    count = cfg.history_days // cfg.cadence_days + 1
    return [t - timedelta(days=cfg.cadence_days * i) for i in reversed(range(count))]


def merge_labels(labels: pl.DataFrame | None, verdicts: pl.DataFrame | None) -> pl.DataFrame | None:
    """Labels from the snapshot and analysts' verdicts (same columns) as one table; the latest
    decision per account is the one in force (`features.labels.labels_in_force`)."""
    frames = [f.select("account_id", "label", "decided_at", "source") for f in (labels, verdicts) if f is not None]
    return pl.concat(frames) if frames else None


def stopped_at(labels: pl.DataFrame | None, last_activity: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """account_id, stopped_at: for each account whose decision in force at t is abuse, its first
    abuse decision when the account did nothing after it (`last_activity`: account_id,
    last_active_at, its latest order, attempt or session before t)."""
    if labels is None:
        return pl.DataFrame(schema={"account_id": pl.String, "stopped_at": UTC_US})
    abuse = labels_in_force(labels, t).filter(pl.col("label") == Label.ABUSE.value).select("account_id")
    first = (
        labels.filter((pl.col("decided_at") < t) & (pl.col("label") == Label.ABUSE.value))
        .group_by("account_id")
        .agg(stopped_at=pl.col("decided_at").min())
    )
    return (
        abuse.join(first, on="account_id")
        .join(last_activity, on="account_id", how="left")
        .filter(pl.col("last_active_at").is_null() | (pl.col("last_active_at") <= pl.col("stopped_at")))
        .select("account_id", "stopped_at")
    )


def draw_examples(
    snapshots: dict[datetime, pl.DataFrame],
    labels: pl.DataFrame | None,
    last_activity: pl.DataFrame,
    t: datetime,
    cfg: TrainingConfig,
) -> pl.DataFrame:
    """The training rows for training at t from the feature tables at each cut-off (only
    mature cut-offs are used; `labels` and `last_activity` may hold later rows, which are
    ignored). Columns: every feature column, account_id, cutoff, y (1 abuse), weight, labelled
    (False for presumed legit) and decided_at (when the label became known; the cut-off for
    presumed legit)."""
    mature = t - timedelta(days=cfg.maturity_days)
    times = sorted(c for c in snapshots if c <= mature)
    known = (
        labels_in_force(labels, t).select("account_id", "label", "decided_at")
        if labels is not None
        else pl.DataFrame(schema={"account_id": pl.String, "label": pl.String, "decided_at": UTC_US})
    )
    stops = stopped_at(labels, last_activity.filter(pl.col("last_active_at") < t), t)
    # The rows are chosen on a few columns, and only the chosen ones carry their features:
    # every cut-off's whole table at once would be millions of rows of every feature.
    evidence_columns = [f"{what}_lifetime" for what in EVIDENCE]
    rows = [
        snapshots[cutoff]
        .filter(is_active())
        .select("account_id", *evidence_columns)
        .with_columns(cutoff=pl.lit(cutoff).cast(UTC_US))
        .join(known, on="account_id", how="left")
        .join(stops, on="account_id", how="left")
        .filter(pl.col("stopped_at").is_null() | (pl.col("cutoff") <= pl.col("stopped_at")))
        .drop("stopped_at")
        for cutoff in times
    ]
    if not rows:
        return pl.DataFrame()
    frame = pl.concat(rows, how="vertical_relaxed")
    evidence = sum(pl.col(f"{what}_lifetime").fill_null(0.0) for what in EVIDENCE) + 1.0
    labelled = frame.filter(pl.col("label").is_not_null()).with_columns(
        y=(pl.col("label") == Label.ABUSE.value).cast(pl.Int8),
        weight=evidence / evidence.sum().over("account_id"),
        labelled=pl.lit(True),
    )
    unlabelled = _presumed_legit(frame.filter(pl.col("label").is_null()), cfg)
    chosen = pl.concat([labelled, unlabelled], how="vertical_relaxed").drop("label", *evidence_columns)
    chosen = balanced_by_cutoff(chosen)
    examples = [
        snapshots[cutoff].join(chosen.filter(pl.col("cutoff") == cutoff), on="account_id", how="inner")
        for cutoff in times
    ]
    return pl.concat(examples, how="vertical_relaxed").sort("cutoff", "account_id")


def balanced_by_cutoff(examples: pl.DataFrame) -> pl.DataFrame:
    """`examples` with the negatives of each cut-off scaled to the same negative-to-positive
    weight ratio as the whole set (a cut-off without positives keeps no negatives)."""
    if examples.is_empty():
        return examples
    positive = pl.col("y") == 1
    totals = examples.group_by(positive.alias("positive")).agg(pl.col("weight").sum())
    by = dict(totals.iter_rows())
    if not by.get(True) or not by.get(False):
        return examples
    ratio = by[False] / by[True]
    per_cut_pos = pl.col("weight").filter(positive).sum().over("cutoff")
    per_cut_neg = pl.col("weight").filter(~positive).sum().over("cutoff")
    scaled = pl.when(positive).then(pl.col("weight")).otherwise(pl.col("weight") * ratio * per_cut_pos / per_cut_neg)
    return examples.with_columns(weight=scaled.fill_nan(0.0).fill_null(0.0)).filter(pl.col("weight") > 0)


def _presumed_legit(rows: pl.DataFrame, cfg: TrainingConfig) -> pl.DataFrame:
    """One row per unlabelled account (at one of its mature cut-offs, at random), at most
    `unlabelled_accounts` accounts, deterministic for the seed."""
    if rows.is_empty() or cfg.unlabelled_weight <= 0:
        return rows.clear().with_columns(y=pl.lit(0, pl.Int8), weight=pl.lit(0.0), labelled=pl.lit(False))
    rng = np.random.default_rng(cfg.seed)
    keyed = rows.sort("account_id", "cutoff").with_columns(_draw=pl.Series(rng.random(rows.height)))
    one = keyed.sort("_draw").unique("account_id", keep="first", maintain_order=True).sort("account_id")
    if one.height > cfg.unlabelled_accounts:
        one = one[np.sort(rng.choice(one.height, size=cfg.unlabelled_accounts, replace=False))]
    return one.drop("_draw").with_columns(
        decided_at=pl.col("cutoff"), y=pl.lit(0, pl.Int8), weight=pl.lit(float(cfg.unlabelled_weight)), labelled=False
    )

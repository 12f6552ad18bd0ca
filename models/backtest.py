"""The backtest of the nightly run: train with what was known at T−Δ, score the population the
run would have scored then, exactly as it scores, and judge the queue against the labels that
arrived after T−Δ (docs/model.md, "Validation: a backtest of the nightly run").

A label that arrives later says that an account scored at T−Δ was (or was not) an abuser. Most
abusers are never labelled, so the later labels are a sample of the abusers, not all of them:
the figures here are the ones such a sample measures without bias when it is drawn
independently of the model's ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score

from contract.values import Label
from features.labels import confirmed_abusers, labels_in_force
from models.population import is_active
from models.queue import ranked

FIGURES = ("precision_at_k", "recall_at_capacity", "precision_at_capacity", "average_precision")


@dataclass(frozen=True)
class Window:
    """A backtest: the model knows everything before `cut` (T−Δ); labels decided from `cut`
    up to `until` (T) judge it."""

    cut: datetime
    until: datetime

    @property
    def days(self) -> int:
        return round((self.until - self.cut) / timedelta(days=1))


def windows(t: datetime, deltas: tuple[int, ...], first_cutoff: datetime, lead_days: int) -> list[Window]:
    """The backtests of training at t: one per Δ in `deltas` (days) whose cut leaves at least
    `lead_days` of cut-offs before it to train on."""
    out = []
    for delta in deltas:
        cut = t - timedelta(days=delta)
        if cut - timedelta(days=lead_days) >= first_cutoff:
            out.append(Window(cut, t))
    return out


def population(features: pl.DataFrame, labels: pl.DataFrame | None, cut: datetime) -> pl.DataFrame:
    """The accounts the run at `cut` could queue: active (models.population), not confirmed as
    abusers by then (models.queue). `features` are the feature table at `cut`."""
    confirmed = confirmed_abusers(labels, cut)
    return features.filter(is_active() & ~pl.col("account_id").is_in(confirmed))


def later_labels(labels: pl.DataFrame | None, window: Window) -> pl.DataFrame:
    """account_id, y: the accounts whose decision in force at `until` was taken inside the
    window, 1 for abuse and 0 for legit."""
    schema = {"account_id": pl.String, "y": pl.Int8}
    if labels is None:
        return pl.DataFrame(schema=schema)
    return (
        labels_in_force(labels, window.until)
        .filter(pl.col("decided_at") >= window.cut)
        .select("account_id", y=(pl.col("label") == Label.ABUSE.value).cast(pl.Int8))
    )


def judge(scored: pl.DataFrame, later: pl.DataFrame, capacity: int, score: str = "score") -> dict[str, float]:
    """Figures of one ranking of the backtest population (`scored`: account_id and the `score`
    column, ranked as the run ranks) against the later labels:

    * ``recall_at_capacity``: the share of the later-labelled abusers among the first
      `capacity` accounts (the queue);
    * ``precision_at_capacity``: the share of the queue labelled abuse later (a lower bound of
      the queue's precision: most abusers are never labelled);
    * ``average_precision``: of the later-labelled abusers against every other account;
    * ``precision_at_k``, the headline: rank the accounts judged later (labelled abuse or legit
      inside the window) by their score, take the first k, k = the later abuse labels, and count
      the share labelled abuse. It is the model's precision at the depth where a perfect
      ranking would have found every abuser, measured on the accounts whose truth became known,
      so it needs no guess of how many abusers were never labelled (docs/model.md).
    """
    ranks = ranked(scored.select("account_id", score=pl.col(score)))
    y = ranks.join(later, on="account_id", how="left").select(pl.col("y").fill_null(0))["y"].to_numpy()
    positives = int(y.sum())
    out = {"population": float(len(y)), "later_abuse_labels": float(positives)}
    if positives == 0 or positives == len(y):
        return out | dict.fromkeys(FIGURES, np.nan)
    judged = ranks.join(later, on="account_id", how="inner")["y"].to_numpy()
    out["precision_at_k"] = float(judged[:positives].mean())
    found = np.cumsum(y)
    head = min(capacity, len(y))
    out["recall_at_capacity"] = found[head - 1] / positives
    out["precision_at_capacity"] = found[head - 1] / head
    out["average_precision"] = float(average_precision_score(y, -np.arange(len(y))))
    return out

"""How well a ranking serves the review queue: precision and recall at review capacity k,
PR-AUC, and the same figures for the naive rules an analyst would otherwise use.

Naive baselines, computed from the orders known at the same instant:

* ``buyer_cancels_60d``: orders the buyer cancelled in the 60 days before t (most first);
* ``cancel_rate``: cancelled orders over orders placed, all known history (highest first, ties
  broken by more orders, i.e. more evidence first).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, precision_recall_curve

from features.time import known_at

BASELINES = ("buyer_cancels_60d", "cancel_rate")


def ranked(y: np.ndarray, score: np.ndarray, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """y reordered from the highest score down (ties: higher tiebreak first, then input order)."""
    keys = (np.arange(len(score)), -np.zeros(len(score)) if tiebreak is None else -tiebreak, -score)
    return np.asarray(y)[np.lexsort(keys)]


def precision_at_k(y: np.ndarray, score: np.ndarray, k: int, tiebreak: np.ndarray | None = None) -> float:
    """Share of abusers among the k highest scores (k larger than the rows: all rows)."""
    top = ranked(y, score, tiebreak)[:k]
    return float(top.mean()) if len(top) else float("nan")


def recall_at_k(y: np.ndarray, score: np.ndarray, k: int, tiebreak: np.ndarray | None = None) -> float:
    """Share of all abusers found among the k highest scores."""
    total = np.asarray(y).sum()
    return float(ranked(y, score, tiebreak)[:k].sum() / total) if total else float("nan")


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(average_precision_score(y, score)) if 0 < np.sum(y) < len(y) else float("nan")


def pr_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    precision, recall, _ = precision_recall_curve(y, score)
    return recall, precision


def precision_curve(y: np.ndarray, score: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Precision at each k of `ks` (for the precision-at-k plot)."""
    hits = np.cumsum(ranked(y, score))
    ks = np.clip(ks, 1, len(hits))
    return hits[ks - 1] / ks


def baseline_scores(orders: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """account_id, buyer_cancels_60d, cancel_rate, orders (for ties) from the orders known at t."""
    known = known_at("orders", orders, t)
    recent_buyer_cancel = (pl.col("cancel_initiator") == "buyer") & (pl.col("cancelled_at") >= t - timedelta(days=60))
    return known.group_by("account_id").agg(
        buyer_cancels_60d=recent_buyer_cancel.fill_null(False).sum().cast(pl.Float64),
        cancel_rate=pl.col("cancelled_at").is_not_null().mean(),
        orders=pl.len().cast(pl.Float64),
    )


def ranking_metrics(frame: pl.DataFrame, k: int) -> dict[str, float]:
    """Metrics of `score` and of each baseline column over `frame` (columns y, score, BASELINES,
    orders): precision and recall at k and PR-AUC, named like `precision_at_k`,
    `baseline_cancel_rate_precision_at_k`."""
    y = frame["y"].to_numpy()
    out = {"k": float(k), "examples": float(len(y)), "positives": float(y.sum())}
    columns = {"": ("score", None), **{f"baseline_{b}_": (b, "orders") for b in BASELINES}}
    for prefix, (column, tie) in columns.items():
        score = frame[column].fill_null(0).to_numpy()
        tiebreak = frame[tie].fill_null(0).to_numpy() if tie else None
        out[f"{prefix}precision_at_k"] = precision_at_k(y, score, k, tiebreak)
        out[f"{prefix}recall_at_k"] = recall_at_k(y, score, k, tiebreak)
        out[f"{prefix}pr_auc"] = pr_auc(y, score)
    best = max(out[f"baseline_{b}_precision_at_k"] for b in BASELINES)
    out["lift_over_best_baseline"] = out["precision_at_k"] / best if best > 0 else float("nan")
    return out


def slice_rates(frame: pl.DataFrame, flagged: pl.Expr, by: str) -> pl.DataFrame:
    """Per value of `by`: accounts, flagged accounts and the flagged share (for recall per abuse
    pattern, or the false-positive share per honest look-alike group)."""
    return (
        frame.group_by(by)
        .agg(accounts=pl.len(), flagged=flagged.sum())
        .with_columns(share=pl.col("flagged") / pl.col("accounts"))
        .sort(by)
    )

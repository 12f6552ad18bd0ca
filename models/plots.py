"""Figures a person would rather look at than read: PR curves, precision at k, feature
importance, score distributions. Each function returns a matplotlib ``Figure`` that pyplot does
not track (no I/O, no global state to close): a notebook shows it once, as a cell's value, and
a caller saves it or lets it go."""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from models.evaluate import BASELINES, pr_curve, precision_curve


def pr_figure(frame: pl.DataFrame, title: str = "Precision-recall, validation window") -> Figure:
    """Precision-recall of the model and the naive baselines on `frame` (y, score, baselines)."""
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    y = frame["y"].to_numpy()
    for column, style in [("score", "-"), *[(b, "--") for b in BASELINES]]:
        recall, precision = pr_curve(y, frame[column].fill_null(0).to_numpy())
        ax.plot(recall, precision, style, label="model" if column == "score" else f"baseline: {column}")
    ax.set(xlabel="recall", ylabel="precision", title=title, ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return fig


def precision_at_k_figure(
    frame: pl.DataFrame, capacity: int, title: str = "Precision at k, validation window"
) -> Figure:
    """Precision among the top k for k = 1 .. 3x the positives, with the review capacity marked."""
    y = frame["y"].to_numpy()
    ks = np.arange(1, max(int(3 * y.sum()), capacity, 10) + 1)
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.subplots()
    for column, style in [("score", "-"), *[(b, "--") for b in BASELINES]]:
        ax.plot(
            ks,
            precision_curve(y, frame[column].fill_null(0).to_numpy(), ks),
            style,
            label="model" if column == "score" else f"baseline: {column}",
        )
    ax.axvline(capacity, color="grey", lw=0.8, ls=":", label=f"k = {capacity}")
    ax.set(
        xlabel="k (accounts reviewed)",
        ylabel="precision at k",
        title=title,
        ylim=(0, 1.02),
    )
    ax.legend(loc="upper right")
    return fig


def importance_figure(names: list[str], gains: np.ndarray, top: int = 25) -> Figure:
    order = np.argsort(gains)[::-1][:top][::-1]
    fig = Figure(figsize=(7, 0.28 * len(order) + 1), layout="constrained")
    ax = fig.subplots()
    ax.barh([names[i] for i in order], gains[order])
    ax.set(xlabel="total gain", title=f"Top {len(order)} features by gain")
    return fig


def score_figure(scores: np.ndarray, groups: np.ndarray, title: str = "Score distribution") -> Figure:
    """Histogram of scores per group (e.g. abuse vs legit examples, or pattern)."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    bins = np.linspace(0, 1, 41)
    for group in np.unique(groups):
        ax.hist(scores[groups == group], bins=bins, alpha=0.55, label=str(group), density=True)
    ax.set(xlabel="score", ylabel="density", title=title, yscale="log")
    ax.legend()
    return fig

"""A run judged against a simulator's truth: recall per abuse pattern, false positives per honest
look-alike group and PR curves, for the model and the naive baselines at the same capacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from matplotlib.figure import Figure

from features.time import as_of_end
from models import plots
from models.evaluate import BASELINES, baseline_scores, ranked, slice_rates
from pipeline.analysis.locations import Data, Day, as_date, run_as_of, snapshot
from pipeline.errors import ConfigError

RANKERS = {"score": "model", **{b: f"baseline: {b}" for b in BASELINES}}

# Look-alike groups that do not come from a pattern of the truth file.
REMOTE_GROUP = "remote-region buyers"  # honest accounts shipping to a remote region
ALL_HONEST = "all honest accounts"


def _lookalike_groups(truth_: pd.DataFrame) -> dict[str, pl.Expr]:
    """The honest look-alike groups the truth defines, each as a rule on its rows, in the order
    shown: remote-region buyers (when the truth has a boolean `remote` column), every pattern
    of its honest accounts (alphabetically, named as the truth names them), all honest accounts.
    The names come from the truth file, never from here: a simulator is free to name its own."""
    remote = "remote" in truth_.columns and pd.api.types.is_bool_dtype(truth_["remote"])
    patterns = sorted(truth_.loc[~truth_["is_abuser"].astype(bool), "pattern"].dropna().unique())
    return {
        **({REMOTE_GROUP: pl.col("remote")} if remote else {}),
        **{str(p): pl.col("pattern") == p for p in patterns},
        ALL_HONEST: pl.lit(True),
    }


def ranked_population(data: Data, run: str | Path, labels: pd.DataFrame) -> pd.DataFrame:
    """The accounts the run could queue: those it scored, less those with an abuse label in
    force (`labels`, from `labels_at`), which the run never queues. One row each in the
    run's rank order: account_id, score, rank, and the naive baselines' inputs at the same
    instant (``models.evaluate.baseline_scores``: buyer_cancels_60d, cancel_rate, orders)."""
    run = Path(run)
    t = as_of_end(run_as_of(run))
    scores = pl.read_parquet(run / "scores.parquet")
    confirmed = labels.loc[labels["label"] == "abuse", "account_id"].tolist()
    baselines = baseline_scores(snapshot(data).orders, t)
    return (
        scores.filter(~pl.col("account_id").is_in(confirmed))
        .join(baselines, on="account_id", how="left")
        .with_columns(pl.col(*BASELINES, "orders").fill_null(0.0))
        .sort("rank")
        .to_pandas()
    )


def abusers_to_find(population: pd.DataFrame, truth_: pd.DataFrame) -> int:
    """The true abusers among a `ranked_population` (scored, no abuse label in force): the
    review capacity at which a perfect ranking would find them all."""
    return int(population["account_id"].isin(truth_.loc[truth_["is_abuser"], "account_id"]).sum())


_RANKER_ORDER = pl.DataFrame({"ranker": list(RANKERS.values()), "ranker_position": range(len(RANKERS))})


def _flagged(population: pl.DataFrame, k: int) -> pl.DataFrame:
    """`population` with a boolean column per ranker: among its k highest (ties as in models.evaluate)."""
    n = population.height
    columns = {}
    for column in RANKERS:
        tiebreak = None if column == "score" else population["orders"].to_numpy()
        order = ranked(np.arange(n), population[column].to_numpy(), tiebreak)
        top = np.zeros(n, dtype=bool)
        top[order[:k]] = True
        columns[f"flagged_{column}"] = top
    return population.with_columns(**{name: pl.Series(values) for name, values in columns.items()})


def _scored_truth(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pl.DataFrame:
    confirmed = set(labels.loc[labels["label"] == "abuse", "account_id"])
    population = pl.from_pandas(scores[~scores["account_id"].isin(confirmed)].reset_index(drop=True))
    if "orders" not in population.columns:
        population = population.with_columns(orders=pl.lit(0.0))
    for b in BASELINES:
        if b not in population.columns:
            raise ConfigError(f"scores need the baseline column {b}: use ranked_population")
    return _flagged(population, k).join(pl.from_pandas(truth_), on="account_id", how="inner")


def _per_ranker(frame: pl.DataFrame, by: str, k: int) -> pl.DataFrame:
    return pl.concat(
        slice_rates(frame, pl.col(f"flagged_{column}"), by).with_columns(ranker=pl.lit(name), k=pl.lit(k))
        for column, name in RANKERS.items()
    )


def pattern_recall(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pd.DataFrame:
    """Recall per abuse pattern (each pattern of the truth's abusers) at review capacity `k`,
    for the model and each naive baseline.

    `scores`: account_id, score and the baselines' columns (a `ranked_population`); accounts
    with an abuse label in force in `labels` are left out (the run never queues them). Long
    format: pattern, ranker, k, abusers (of the pattern in the population), found (among the
    ranker's top k), recall (found / abusers); an "all abuse" row per ranker."""
    frame = _scored_truth(scores, truth_, labels, k).filter(pl.col("is_abuser"))
    both = pl.concat([frame, frame.with_columns(pattern=pl.lit("all abuse"))])
    out = _per_ranker(both, "pattern", k).rename({"accounts": "abusers", "flagged": "found", "share": "recall"})
    # Patterns alphabetically, "all abuse" last; rankers in RANKERS order (model first).
    out = out.join(_RANKER_ORDER, on="ranker").sort(pl.col("pattern") == "all abuse", "pattern", "ranker_position")
    return out.select("pattern", "ranker", "k", "abusers", "found", "recall").to_pandas()


def lookalike_fp_share(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pd.DataFrame:
    """False positives per honest look-alike group at review capacity `k`, for the model and
    each naive baseline. The groups are the truth's own: each pattern of its honest accounts,
    remote-region buyers when it has a boolean `remote` column, and all honest accounts; a
    group with no account in the population has no row. Columns group, ranker, k, accounts
    (honest accounts of the group in the population), flagged (of them among the top k), share
    (flagged / accounts: the group's false-positive rate) and fp_share (flagged / all honest
    accounts flagged by that ranker). Groups overlap (a remote account is also in its
    pattern's group), so fp_share does not sum to one."""
    groups = _lookalike_groups(truth_)
    frame = _scored_truth(scores, truth_, labels, k).filter(~pl.col("is_abuser"))
    members = pl.concat(frame.filter(rule).with_columns(group=pl.lit(name)) for name, rule in groups.items())
    out = _per_ranker(members, "group", k)
    total = out.filter(pl.col("group") == ALL_HONEST).select("ranker", total=pl.col("flagged"))
    order = pl.DataFrame({"group": list(groups), "position": range(len(groups))})
    return (
        out.join(total, on="ranker")
        .with_columns(fp_share=pl.when(pl.col("total") > 0).then(pl.col("flagged") / pl.col("total")).otherwise(None))
        .join(order, on="group")
        .join(_RANKER_ORDER, on="ranker")
        .sort("position", "ranker_position")
        .select("group", "ranker", "k", "accounts", "flagged", "share", "fp_share")
        .to_pandas()
    )


def slices_figure(
    table: pd.DataFrame, by: str, value: str, title: str, xlabel: str, k_names: dict[int, str] | None = None
) -> Figure:
    """Grouped horizontal bars of `value` per `by` (rows) and ranker (bars), one panel per k
    (titled with `k_names[k]` when given): for `pattern_recall` (by="pattern", value="recall")
    or `lookalike_fp_share` (by="group", value="share" or "fp_share")."""
    ks = sorted(table["k"].unique())
    fig = Figure(figsize=(6.5 * len(ks), 0.45 * table[by].nunique() * len(RANKERS) / 2 + 2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(ks), sharey=True))
    groups = list(dict.fromkeys(table[by]))
    height = 0.8 / len(RANKERS)
    for ax, k in zip(axes, ks, strict=True):
        part = table[table["k"] == k]
        for i, name in enumerate(RANKERS.values()):
            values = part[part["ranker"] == name].set_index(by)[value].reindex(groups).to_numpy(dtype=float)
            ax.barh(np.arange(len(groups)) + (i - (len(RANKERS) - 1) / 2) * height, values, height=height, label=name)
        ax.set_yticks(np.arange(len(groups)), groups)
        ax.set(xlabel=xlabel, title=f"k = {k}" + (f" ({k_names[k]})" if k_names and k in k_names else ""))
        ax.legend(fontsize=8)
    axes[0].invert_yaxis()  # the axes share y: inverting one inverts all (first row on top)
    fig.suptitle(title, fontsize=13)
    return fig


def truth_pr_figures(
    population: pd.DataFrame, truth_: pd.DataFrame, capacity: int, as_of: Day
) -> tuple[Figure, Figure]:
    """The PR curve and precision at k of the run's scores against the simulator's truth on
    a `ranked_population`, the baselines beside them (``models.plots``)."""
    frame = (
        pl.from_pandas(population)
        .join(pl.from_pandas(truth_[["account_id", "is_abuser"]]), on="account_id", how="left")
        .with_columns(y=pl.col("is_abuser").fill_null(False).cast(pl.Int8))
    )
    pr, at_k = plots.pr_figure(frame), plots.precision_at_k_figure(frame, capacity)
    pr.axes[0].set_title(f"Precision-recall against truth, run of {as_date(as_of)}")
    at_k.axes[0].set_title(f"Precision at k against truth, run of {as_date(as_of)}")
    return pr, at_k

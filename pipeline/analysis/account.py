"""One account under investigation: its orders over time, and its features against the population."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from contract.values import CANCEL_INITIATORS
from features.catalogue import catalogue
from features.context import campaign_context
from features.history import order_facts
from features.time import as_of_end, known_at
from pipeline.analysis.locations import Data, Day, as_date, snapshot
from pipeline.errors import InputError

CAUSES = CANCEL_INITIATORS  # who cancelled an order: the cause an analyst reads first
CAUSE_COLOURS = {
    "buyer": "#d62728",
    "seller": "#ff7f0e",
    "logistics": "#1f77b4",
    "payment": "#9467bd",
    "platform": "#8c564b",
    "not cancelled": "#9a9a9a",
}
STAGE_ROWS = ("not cancelled", "before payment", "after payment", "after shipment")


def account_orders(data: Data, account_id: str, as_of: Day) -> pd.DataFrame:
    """The orders of `account_id` as known at the end of `as_of`, oldest first.

    The order columns (later states reached after as-of unset, ``features.time.known_at``) plus
    `cause` (the cancel initiator, or "not cancelled"), `stage` ("before payment", "after
    payment", "after shipment" or "not cancelled", as ``features.history.order_facts`` defines
    them), `flash` (placed in a flash sale) and `fast` (a buyer cancel within minutes)."""
    t = as_of_end(as_date(as_of))
    known = known_at("orders", snapshot(data).orders, t)
    # Campaign context (flash or not) pools every buyer of the campaign, so it is built on all orders.
    facts = order_facts(known.filter(pl.col("account_id") == account_id), campaign_context(known))
    return (
        facts.lazy()  # a frame or a lazy frame, whichever features.history hands out
        .sort("placed_at", "order_id")
        .with_columns(
            cause=pl.col("cancel_initiator").fill_null("not cancelled"),
            stage=pl.col("stage").str.replace_all("_", " ").fill_null("not cancelled"),
        )
        .collect()
        .to_pandas()
    )


def account_payments(data: Data, account_id: str, as_of: Day) -> pd.DataFrame:
    """The payment attempts of `account_id` known at the end of `as_of` (``features.time.known_at``),
    oldest first: attempt_id, order_id, instrument_id, attempted_at, succeeded, failure_code."""
    attempts = snapshot(data).payment_attempts
    columns = ["attempt_id", "order_id", "instrument_id", "attempted_at", "succeeded", "failure_code"]
    if attempts is None:
        return pd.DataFrame(columns=columns)
    known = known_at("payment_attempts", attempts.filter(pl.col("account_id") == account_id), as_of_end(as_date(as_of)))
    return known.lazy().sort("attempted_at", "attempt_id").select(columns).collect().to_pandas()


def timeline_figure(orders: pd.DataFrame, account_id: str, as_of: Day, created_at: datetime | None = None) -> Figure:
    """The account's orders over time: top, each order on the row of its stage at the time it
    ended (cancelled_at, else placed_at), coloured by cause, with a line back to when it was
    placed; bottom, orders placed and cancellations by cause per day."""
    t = pd.Timestamp(as_of_end(as_date(as_of)))
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    fig.suptitle(f"Orders and cancellations of {account_id}, as known at {t:%Y-%m-%d %H:%M} UTC", fontsize=13)
    rng = np.random.default_rng(0)  # vertical jitter only, so overlapping orders stay visible
    row = orders["stage"].map({s: i for i, s in enumerate(STAGE_ROWS)}).to_numpy(dtype=float)
    y = row + rng.uniform(-0.25, 0.25, len(orders))
    ended = orders["cancelled_at"].fillna(orders["placed_at"])
    for cause, colour in CAUSE_COLOURS.items():
        mine = (orders["cause"] == cause).to_numpy()
        if not mine.any():
            continue
        flash = orders["flash"].to_numpy() & mine
        top.hlines(y[mine], orders["placed_at"][mine], ended[mine], color=colour, lw=0.8, alpha=0.6)
        top.scatter(ended[mine & ~flash], y[mine & ~flash], color=colour, s=22, marker="o", label=cause)
        if flash.any():
            top.scatter(ended[flash], y[flash], color=colour, s=40, marker="*")
    if orders["flash"].any():
        top.scatter([], [], color="black", marker="*", s=40, label="flash-sale order")
    top.set_yticks(range(len(STAGE_ROWS)), STAGE_ROWS)
    top.set_ylim(-0.6, len(STAGE_ROWS) - 0.4)
    top.set(ylabel="cancelled ...", title="Each order at the time it was cancelled (or placed), line from placement")
    # Registration is drawn when it falls near the orders; an old account would squash them.
    created = None if created_at is None else pd.Timestamp(created_at)
    near = created is not None and (orders.empty or created >= orders["placed_at"].min() - pd.Timedelta(days=14))
    for ax in (top, bottom):
        ax.axvline(t, color="black", lw=1, ls="--")
        if near:
            ax.axvline(created, color="grey", lw=1, ls=":")
    top.legend(title="cause (initiator)", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    day = orders["placed_at"].dt.floor("D")
    days = (
        pd.date_range(day.min(), t - pd.Timedelta(days=1), freq="D") if len(orders) else pd.DatetimeIndex([], tz="UTC")
    )
    placed = day.value_counts().reindex(days, fill_value=0)
    cancelled = orders.dropna(subset=["cancelled_at"]).assign(day=lambda f: f["cancelled_at"].dt.floor("D"))
    per_cause = cancelled.groupby(["day", "cause"]).size().unstack(fill_value=0)
    bottom.plot(placed.index, placed.to_numpy(), color="black", lw=1, drawstyle="steps-mid", label="orders placed")
    base = np.zeros(len(per_cause))
    for cause in [c for c in CAUSES if c in per_cause.columns]:
        values = per_cause[cause].to_numpy()
        bottom.bar(
            per_cause.index, values, bottom=base, width=0.8, color=CAUSE_COLOURS[cause], label=f"cancelled: {cause}"
        )
        base = base + values
    registered = "" if created is None else ("; dotted: registration" if near else f"; registered {created:%Y-%m-%d}")
    bottom.set(xlabel=f"time (UTC); dashed: end of the as-of day{registered}", ylabel="orders per day", title="Per day")
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return fig


def feature_percentiles(run: str | Path, account_id: str) -> pd.DataFrame:
    """Every feature of `account_id` from the run's features.parquet against the population
    the run scored (scores.parquet): value, percentile (share of the population at or below
    the value, in percent, as in the reasons), the population's median, 90th and 99th
    percentile, and the catalogue's family, window, unit and meaning. NaN values are left out
    of the population; an account with a NaN value gets a NaN percentile."""
    run = Path(run)
    features = pl.read_parquet(run / "features.parquet")
    scored = pl.read_parquet(run / "scores.parquet", columns=["account_id"])
    population = features.join(scored, on="account_id", how="semi")
    mine = features.filter(pl.col("account_id") == account_id)
    if mine.is_empty():
        raise InputError(f"account {account_id} is not in {run / 'features.parquet'}")
    rows = []
    for f in catalogue():
        values = population[f.name].to_numpy()
        values = np.sort(values[~np.isnan(values)])
        value = mine[f.name][0]
        value = np.nan if value is None else float(value)
        pct = (
            100.0 * np.searchsorted(values, value, side="right") / max(len(values), 1) if np.isfinite(value) else np.nan
        )
        p50, p90, p99 = np.quantile(values, [0.5, 0.9, 0.99]) if len(values) else (np.nan,) * 3
        rows.append((f.name, f.family, f.window, f.unit, value, pct, p50, p90, p99, f.meaning))
    columns = ["feature", "family", "window", "unit", "value", "percentile", "p50", "p90", "p99", "meaning"]
    return pd.DataFrame(rows, columns=columns)


def percentile_figure(
    percentiles: pd.DataFrame, account_id: str, highlight: Sequence[str] = (), top: int = 20
) -> Figure:
    """Where the account sits in the population on its most unusual features: the `highlight`
    features (its reasons) and the others furthest from the median, ranked by how extreme
    their percentile is (features at the population's median value are not unusual)."""
    f = percentiles.dropna(subset=["percentile"])
    unusual = f[(f["value"] != f["p50"]) | f["feature"].isin(highlight)]
    extreme = np.maximum(unusual["percentile"], 100 - unusual["percentile"]) + 1000 * unusual["feature"].isin(highlight)
    shown = unusual.assign(extreme=extreme).sort_values("extreme", ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(11, 0.32 * len(shown) + 1.6), layout="constrained")
    ax = fig.subplots()
    colours = np.where(shown["feature"].isin(highlight), "#c44e52", "#4c72b0")
    # Bars start at the median (50): a low extreme shows as clearly as a high one.
    ax.barh(shown["feature"], shown["percentile"] - 50, left=50, color=colours)
    ax.axvline(50, color="black", lw=0.8)
    for i, (_, r) in enumerate(shown.iterrows()):
        ax.text(101, i, f"{r['value']:.3g} (median {r['p50']:.3g})", va="center", fontsize=7)
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set(
        xlabel="percentile in the scored population (share at or below the account's value, %)",
        title=f"{account_id}: most unusual features (red: cited as reasons)",
    )
    ax.tick_params(axis="y", labelsize=8)
    return fig

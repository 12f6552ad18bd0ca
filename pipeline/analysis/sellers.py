"""The sellers' side of a run: each seller's exposure to suspects' cancellations, the sellers
they aimed at, and one seller's page (its cancellations over time by cause, and the accounts).

Read from the run directory (``sellers.parquet``, ``seller_cancels.parquet``); the counting
rules are ``models.sellers``'.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from matplotlib.figure import Figure

from models import sellers as rules
from pipeline import rundirs
from pipeline.analysis.account import CAUSE_COLOURS
from pipeline.errors import InputError

SELLER_COLOURS = {rules.ABUSE: "#7f0000", **CAUSE_COLOURS}


def _read(run: str | Path, name: str) -> pl.DataFrame:
    """One of the run's seller tables; InputError naming the run when it has none (a run made
    before the seller exposure existed)."""
    path = Path(run) / name
    if not path.is_file():
        raise InputError(
            f"the run at {Path(run)} has no seller exposure ({name}): it was made before runs computed it; "
            "run that date again (`buyer-abuse run --as-of DATE`) to add it"
        )
    return pl.read_parquet(path)


def seller_exposure(run: str | Path) -> pd.DataFrame:
    """The run's seller exposure table (contract.outputs.SELLER_EXPOSURE), most targeted seller
    first, with `reasons` parsed into a list of dicts and `why` (their sentences, one per line)."""
    rows = _read(run, rundirs.SELLERS).to_pandas()
    reasons = rows["reasons"].map(json.loads)
    return rows.assign(reasons=reasons, why=reasons.map(lambda items: "\n".join(f"- {r['text']}" for r in items)))


def seller_cancellations(run: str | Path) -> pd.DataFrame:
    """The run's cancelled orders of the window, one row each with its cause (contract.outputs.SELLER_CANCELS)."""
    return _read(run, rundirs.SELLER_CANCELS).to_pandas()


def seller_page(run: str | Path, seller_id: str) -> dict:
    """What a page about one seller shows: `exposure` (its row of the exposure table, a dict; None
    when it had no cancellation), `timeline` (day, cause, cancellations) and `accounts` (each
    buyer who cancelled there, abuse-driven first), as ``models.sellers.seller_page``."""
    cancels = _read(run, rundirs.SELLER_CANCELS)
    row = _read(run, rundirs.SELLERS).filter(pl.col("seller_id") == seller_id)
    page = {name: frame.to_pandas() for name, frame in rules.seller_page(cancels, seller_id).items()}
    return {"exposure": row.to_dicts()[0] if row.height else None, **page}


def sellers_figure(exposure: pd.DataFrame, top: int = 10) -> Figure:
    """Two panels on the `top` most targeted sellers of a `seller_exposure` frame: their
    cancellations split into abuse-driven and the rest, and their cancellation rate before and
    after removing the abuse-driven ones, with 95% Wilson intervals."""
    rows = exposure.dropna(subset=["target_rank"]).sort_values("target_rank").head(top).iloc[::-1]
    fig = Figure(figsize=(13, 0.45 * max(len(rows), 4) + 2), layout="constrained")
    a, b = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(rows))
    a.barh(y, rows["abuse_cancels"], color=SELLER_COLOURS[rules.ABUSE], label="abuse-driven")
    a.barh(y, rows["cancellations"] - rows["abuse_cancels"], left=rows["abuse_cancels"], color="#d9d9d9", label="other")
    a.set_yticks(y, rows["seller_id"])
    a.set(xlabel="cancellations in the window", title=f"Most targeted sellers (top {len(rows)})")
    a.legend(fontsize=8)
    for offset, (name, low, high, colour, label) in zip(
        (0.15, -0.15),
        (
            ("cancel_rate", "cancel_rate_low", "cancel_rate_high", "#1f77b4", "as counted"),
            ("corrected_cancel_rate", "corrected_rate_low", "corrected_rate_high", "#2ca02c", "abuse removed"),
        ),
        strict=True,
    ):
        rate = rows[name].to_numpy(dtype=float)
        errors = np.vstack([rate - rows[low].to_numpy(dtype=float), rows[high].to_numpy(dtype=float) - rate])
        b.errorbar(rate, y + offset, xerr=errors, fmt="o", color=colour, label=label, capsize=3)
    b.set(xlabel="cancellation rate (95% Wilson interval)", title="The seller's rate, before and after")
    b.legend(fontsize=8)
    return fig


def seller_timeline_plot(timeline: pd.DataFrame, title: str | None = None):
    """A `seller_page` timeline as an interactive plotly figure (the review app's): the seller's
    cancellations per day (UTC) stacked by cause, the abuse-driven ones at the bottom, dark red
    and hatched, the others by who cancelled (``SELLER_COLOURS``); hovering gives day, cause and
    count of the day. One trace per cause present, abuse-driven first."""
    import plotly.graph_objects as go  # only the app and notebooks that want it pay the import

    per_day = timeline.pivot_table(index="day", columns="cause", values="cancellations", aggfunc="sum", fill_value=0)
    busiest = per_day.sum(axis=1).max() if len(per_day) else 0
    fig = go.Figure()
    for cause, colour in SELLER_COLOURS.items():
        if cause not in per_day:
            continue
        abuse = cause == rules.ABUSE
        name = "abuse-driven" if abuse else f"by {cause}, not abuse-driven" if cause == "buyer" else f"by {cause}"
        fig.add_trace(
            go.Bar(
                x=per_day.index,
                y=per_day[cause],
                name=name,
                marker={"color": colour, "pattern": {"shape": "/" if abuse else "", "fgcolor": "white"}},
                hovertemplate="%{y} " + name + "<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title or "Cancellations per day", "x": 0.01},
        barmode="stack",
        bargap=0.1,
        xaxis={"title": {"text": "day cancelled (UTC)"}, "hoverformat": "%a %Y-%m-%d"},
        yaxis={"title": {"text": "cancelled orders"}, "dtick": 1 if busiest <= 10 else None},  # no half orders
        legend={"title": {"text": "cause"}, "x": 1.02, "y": 1, "xanchor": "left"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    return fig

"""`buyer-abuse sellers`: the sellers most hit by suspects' cancellations on a scoring date, from
the review database's seller_exposure table, as a terminal table, CSV or JSON."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TextIO

import pandas as pd
from rich.console import Console
from rich.table import Table

from pipeline import review_db
from pipeline.errors import InputError

FORMATS = ("table", "csv", "json")


def top_sellers(url: str, as_of: date, top: int) -> pd.DataFrame:
    """The first `top` rows of seller_exposure for `as_of`, most targeted first; InputError when
    the date has none."""
    engine = review_db.connect(url, create=False)  # a mistyped path must not create a database
    try:
        rows = review_db.read_seller_exposure(engine, as_of)
    finally:
        engine.dispose()
    if rows.empty:
        raise InputError(f"no seller exposure for {as_of} in the review database: run `buyer-abuse run` first")
    return rows.head(top).reset_index(drop=True)


def show_sellers(
    url: str, as_of: date, top: int, fmt: str = "table", out: TextIO | None = None, console: Console | None = None
) -> None:
    rows = top_sellers(url, as_of, top)
    out = out or sys.stdout
    if fmt == "csv":
        rows.to_csv(out, index=False)
    elif fmt == "json":
        records = json.loads(rows.to_json(orient="records", date_format="iso"))  # NaN and <NA> become null
        for record in records:
            record["as_of"] = as_of.isoformat()
            record["reasons"] = json.loads(record["reasons"])
        out.write(json.dumps(records, indent=2, allow_nan=False) + "\n")
    else:
        _table(rows, as_of, console or Console(width=None if out.isatty() else 160, file=out))


def rate_interval(rate: float, low: float, high: float) -> str:
    """A rate and its interval as percentages, "35.1% (33.9%–36.4%)"; empty where there is no rate
    (the review app's sellers pages show rates the same way)."""
    return "" if pd.isna(rate) else f"{rate:.1%} ({low:.1%}–{high:.1%})"


def _table(rows: pd.DataFrame, as_of: date, console: Console) -> None:
    table = Table(title=f"Sellers most targeted by suspects, {as_of} (top {len(rows)})", show_lines=True)
    for column in ("rank", "seller", "orders", "cancels", "abuse", "rate", "corrected", "suspects", "flash", "why"):
        table.add_column(column, overflow="fold")
    for row in rows.itertuples():
        flash = "" if pd.isna(row.flash_abused_share) else f"{row.flash_abused_share:.0%} of {row.flash_units}"
        why = "\n".join(f"- {r['text']}" for r in json.loads(row.reasons))
        table.add_row(
            "" if pd.isna(row.target_rank) else str(row.target_rank),
            row.seller_id,
            str(row.orders),
            str(row.cancellations),
            str(row.abuse_cancels),
            rate_interval(row.cancel_rate, row.cancel_rate_low, row.cancel_rate_high),
            rate_interval(row.corrected_cancel_rate, row.corrected_rate_low, row.corrected_rate_high),
            f"{row.suspect_buyers} in {row.suspect_rings} rings",
            flash,
            why,
        )
    console.print(table)

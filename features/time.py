"""Point-in-time views of the contract tables and the windows features are counted over.

Every feature is computed as of an instant ``t``: the end of the as-of day, exclusive. A row
is known at ``t`` only if its event time is before ``t``, and an order's later states (paid,
shipped, delivered, cancelled) only if they were reached before ``t``. Applying ``known_at``
first is what makes every feature identical whether or not later data is in the snapshot.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import polars as pl

from contract.tables import LATER_STATES, TABLES

# Feature functions take eager or lazy frames: lazy inputs let polars read only the columns
# each aggregation needs (the orders table is the largest thing in memory).
Frame = pl.DataFrame | pl.LazyFrame

# Windows end at t (exclusive) and reach back this many days; "lifetime" is everything known.
WINDOWS: dict[str, int | None] = {"1d": 1, "7d": 7, "30d": 30, "90d": 90, "lifetime": None}


def as_of_day(value: date | datetime | str) -> date:
    """The day a value names: a date as is, a datetime's UTC date, or text YYYY-MM-DD.
    Raises ValueError for text that is not such a date."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # fromisoformat alone also takes 20260331, 2026-W13-2
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{value!r} is not a date YYYY-MM-DD")


def as_of_end(day: date) -> datetime:
    """The instant a run `--as-of DAY` sees up to: midnight UTC after DAY (exclusive)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def known_at(table: str, frame: Frame, t: datetime) -> Frame:
    """The rows of `table` known before `t`, with order states reached later unset."""
    known = frame.filter(pl.col(TABLES[table].event_time) < t)
    if table != "orders":
        return known
    unset = []
    for state, dependants in LATER_STATES.items():
        later = pl.col(state) >= t
        unset += [pl.when(later).then(None).otherwise(pl.col(c)).alias(c) for c in (state, *dependants)]
    return known.with_columns(unset)


def window_start(t: datetime, window: str) -> datetime | None:
    days = WINDOWS[window]
    return None if days is None else t - timedelta(days=days)


def window_index(column: str, t: datetime) -> pl.Expr:
    """Index into WINDOWS of the narrowest window holding the row (windows are nested)."""
    expr = pl.lit(len(WINDOWS) - 1, dtype=pl.UInt8)
    for i, window in reversed(list(enumerate(WINDOWS))[:-1]):
        expr = pl.when(pl.col(column) >= window_start(t, window)).then(pl.lit(i, dtype=pl.UInt8)).otherwise(expr)
    return expr


def windowed_sums(frame: Frame, column: str, t: datetime, sums: list, key: str = "account_id") -> pl.DataFrame:
    """`{stem}_{window}` for every `features.catalogue.Windowed` in `sums` and every window.

    Rows are first summed per (key, narrowest window), then each window adds up its own and
    all narrower parts: a few sums per row instead of one per row per window."""
    per_part = (
        frame.lazy()
        .group_by(key, window_index(column, t).alias("_window"))
        .agg(s.value.sum().alias(s.stem) for s in sums)
    )
    return (
        per_part.group_by(key)
        .agg(
            # when/then keeps polars' vectorised sum; a filter inside the aggregation runs per group (10x slower)
            pl.when(pl.col("_window") <= i).then(pl.col(s.stem)).otherwise(0).sum().alias(f"{s.stem}_{w}")
            for s in sums
            for i, w in enumerate(WINDOWS)
        )
        .collect()
    )


def in_window(column: str, t: datetime, window: str) -> pl.Expr:
    """True for rows whose `column` falls in `window` before t (t itself is never included)."""
    start = window_start(t, window)
    # Lifetime is a column test too: a bare literal would aggregate as one scalar, not per row.
    return pl.col(column).is_not_null() if start is None else pl.col(column) >= start

"""Point-in-time views of the contract tables and the windows features are counted over.

Every feature is computed as of an instant ``t``: the end of the as-of day, exclusive. A row
is known at ``t`` only if its event time is before ``t``, and an order's later states (paid,
shipped, delivered, cancelled) only if they were reached before ``t``. Applying ``known_at``
first is what makes every feature identical whether or not later data is in the snapshot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

# Windows end at t (exclusive) and reach back this many days; "lifetime" is everything known.
WINDOWS: dict[str, int | None] = {"1d": 1, "7d": 7, "30d": 30, "90d": 90, "lifetime": None}

# The time at which a row of each table happened.
EVENT_TIME = {
    "accounts": "created_at",
    "orders": "placed_at",
    "payment_attempts": "attempted_at",
    "sessions": "started_at",
    "labels": "decided_at",
}
# Order states reached later than placement, and the columns that only exist once they are.
LATER_STATES = {
    "paid_at": ("payment_instrument_id",),
    "shipped_at": (),
    "delivered_at": (),
    "cancelled_at": ("cancel_initiator", "cancel_reason"),
}


def as_of_end(day: date) -> datetime:
    """The instant a run `--as-of DAY` sees up to: midnight UTC after DAY (exclusive)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def known_at(table: str, frame: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """The rows of `table` known before `t`, with order states reached later unset."""
    known = frame.filter(pl.col(EVENT_TIME[table]) < t)
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


def in_window(column: str, t: datetime, window: str) -> pl.Expr:
    """True for rows whose `column` falls in `window` before t (t itself is never included)."""
    start = window_start(t, window)
    # Lifetime is a column test too: a bare literal would aggregate as one scalar, not per row.
    return pl.col(column).is_not_null() if start is None else pl.col(column) >= start

"""Small contract-typed frames written by hand, for the feature specification tests.

Each builder takes a few dicts that spell out only what a test is about and fills every other
contract column with a dull default, so the expected answer stays visible in the test itself.

This is a plain module (imported as ``from feature_frames import ...``) rather than a
``conftest.py``: test directories are not packages, so two helper modules both named
``conftest`` would shadow each other when both directories are on one pytest command line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import polars as pl

from contract.tables import polars_schema
from features.context import campaign_context
from features.history import history
from features.payments import payments
from features.time import known_at

# The as-of instant of a run `--as-of 2026-03-31`: midnight UTC after that day, exclusive.
T = datetime(2026, 4, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """`rows` as a frame with exactly the contract columns and types of `table`."""
    schema = polars_schema(table)
    unknown = {k for row in rows for k in row} - set(schema)
    assert not unknown, f"not {table} columns: {sorted(unknown)}"
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=schema)


def orders(*rows: dict) -> pl.DataFrame:
    """Orders o1, o2, ... of buyer "a" at seller s1 for item i1, placed a day before T, $20, shipped
    to DE; no later state unless given."""
    n = count(1)
    defaults = dict(
        account_id="a",
        seller_id="s1",
        item_id="i1",
        placed_at=T - DAY,
        amount_usd=20.0,
        discount_usd=0.0,
        item_count=1,
        ship_country="DE",
    )
    return frame("orders", [{"order_id": f"o{next(n)}", **defaults, **row} for row in rows])


def accounts(*rows: dict) -> pl.DataFrame:
    """Accounts registered 100 days before T in DE, on example.com, phone verified."""
    defaults = dict(created_at=T - 100 * DAY, country="DE", email_domain="example.com", phone_verified=True)
    return frame("accounts", [{**defaults, **row} for row in rows])


def attempts(*rows: dict) -> pl.DataFrame:
    """Payment attempts p1, p2, ... by "a" on order o1 with card c1 a day before T, successful;
    a failed attempt defaults to failure_code card_declined."""
    n = count(1)
    out = []
    for row in rows:
        succeeded = row.get("succeeded", True)
        base = dict(
            attempt_id=f"p{next(n)}",
            order_id="o1",
            account_id="a",
            instrument_id="c1",
            attempted_at=T - DAY,
            succeeded=succeeded,
            failure_code=None if succeeded else "card_declined",
        )
        out.append({**base, **row})
    return frame("payment_attempts", out)


def sessions(*rows: dict) -> pl.DataFrame:
    """Sessions of "a" on device d1 a day before T, no network prefix."""
    defaults = dict(account_id="a", device_id="d1", ip_prefix=None, started_at=T - DAY)
    return frame("sessions", [{**defaults, **row} for row in rows])


def labels(*rows: dict) -> pl.DataFrame:
    """Review labels "abuse" decided a day before T."""
    defaults = dict(label="abuse", decided_at=T - DAY, source="review")
    return frame("labels", [{**defaults, **row} for row in rows])


def by_account(result: pl.DataFrame) -> dict[str, dict]:
    """A per-account result as {account_id: {column: value}}."""
    return {row["account_id"]: row for row in result.iter_rows(named=True)}


def history_at(order_rows: pl.DataFrame, t: datetime = T) -> dict[str, dict]:
    """history as the feature job runs it: orders cut at t, campaigns from the cut orders."""
    known = known_at("orders", order_rows, t)
    return by_account(history(known, campaign_context(known), t))


def payments_at(attempt_rows: pl.DataFrame, t: datetime = T) -> dict[str, dict]:
    return by_account(payments(known_at("payment_attempts", attempt_rows, t), t))


def buyer_cancel(placed_at: datetime, after: timedelta, **more) -> dict:
    """An unpaid order its buyer cancelled `after` its placement."""
    return (
        dict(
            placed_at=placed_at, cancelled_at=placed_at + after, cancel_initiator="buyer", cancel_reason="changed_mind"
        )
        | more
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)

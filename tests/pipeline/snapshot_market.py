"""A small valid market as rows written by hand, and the frames and CSV text they make.

A plain module (``from snapshot_market import ...``), not conftest.py, so that no other test
directory's conftest can shadow it; the fixtures in conftest.py hand out fresh copies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from contract.tables import polars_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _order(order_id: str, account_id: str, **states) -> dict:
    row = dict.fromkeys(polars_schema("orders"))
    row.update(
        order_id=order_id,
        account_id=account_id,
        seller_id="s1",
        item_id="i1",
        placed_at=T0,
        amount_usd=20.0,
        discount_usd=0.0,
        item_count=1,
        ship_country="DE",
    )
    return row | states


def _attempt(attempt_id: str, order_id: str, account_id: str, succeeded: bool = True, **more) -> dict:
    row = dict(
        attempt_id=attempt_id,
        order_id=order_id,
        account_id=account_id,
        instrument_id="card1",
        attempted_at=T0 + H,
        succeeded=succeeded,
        failure_code=None if succeeded else "card_declined",
    )
    return row | more


def valid_market() -> dict[str, list[dict]]:
    """Three accounts; four orders (o1 delivered, o2 cancelled by its buyer, o3 paid after a failed
    attempt, o4 just placed); four payment attempts (p1 for o1, p2 failed and p3 for o3, p4 failed
    for o4). Every row valid."""
    accounts = [
        dict(account_id=a, created_at=T0 - 30 * 24 * H, country="DE", email_domain="gmail.com", phone_verified=True)
        for a in ("a1", "a2", "a3")
    ]
    orders = [
        _order("o1", "a1", paid_at=T0 + H, shipped_at=T0 + 2 * H, delivered_at=T0 + 30 * H),
        _order("o2", "a2", cancelled_at=T0 + H, cancel_initiator="buyer", cancel_reason="changed_mind"),
        _order("o3", "a2", paid_at=T0 + H),
        _order("o4", "a3"),
    ]
    attempts = [
        _attempt("p1", "o1", "a1"),
        _attempt("p2", "o3", "a2", succeeded=False),
        _attempt("p3", "o3", "a2"),
        _attempt("p4", "o4", "a3", succeeded=False, failure_code="insufficient_funds"),
    ]
    return {"accounts": accounts, "orders": orders, "payment_attempts": attempts}


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """Rows as a frame of the contract types (extra keys become extra columns)."""
    schema = polars_schema(table)
    extra = {k for row in rows for k in row} - set(schema)
    return pl.DataFrame(rows, schema=schema | {k: None for k in sorted(extra)} if extra else schema)


def csv(table: str, rows: list[dict[str, str]]) -> str:
    """CSV text with every contract column of `table` (then any extra keys); absent values are empty."""
    columns = [*polars_schema(table), *sorted({k for row in rows for k in row} - set(polars_schema(table)))]
    return pl.DataFrame(
        [{c: row.get(c) for c in columns} for row in rows], schema=dict.fromkeys(columns, pl.String)
    ).write_csv()

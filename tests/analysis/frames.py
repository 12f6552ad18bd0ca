"""Small hand-written snapshots and queue rows for the notebooks' API, shared by its tests."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import polars as pl

from contract.tables import polars_schema
from pipeline.snapshot import Snapshot

AS_OF = date(2026, 3, 10)
T = datetime(2026, 3, 11, tzinfo=UTC)  # the end of AS_OF
H = timedelta(hours=1)


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(table)
    return pl.DataFrame([dict.fromkeys(schema) | row for row in rows], schema=schema)


def order(order_id: str, account_id: str = "a1", placed: datetime = T - 48 * H, **states) -> dict:
    return (
        dict(
            order_id=order_id,
            account_id=account_id,
            seller_id="s1",
            item_id="i1",
            placed_at=placed,
            amount_usd=10.0,
            discount_usd=0.0,
            item_count=1,
            ship_country="DE",
        )
        | states
    )


def market(orders: list[dict], labels: list[dict] | None = None) -> Snapshot:
    ids = ("a1", "a2", "m1", "m2", "m3", "m4", "m5")
    accounts = frame("accounts", [dict(account_id=a, created_at=T - 900 * H, country="DE") for a in ids])
    return Snapshot(
        accounts=accounts,
        orders=frame("orders", orders),
        payment_attempts=frame("payment_attempts", []),
        sessions=None,
        labels=None if labels is None else frame("labels", labels),
    )


def reasons(*features: str, ring: tuple[str, int] | None = None) -> str:
    items = [
        {"feature": f, "value": 1.0, "contribution": 0.5, "percentile": 99.0, "typical": 0.0, "text": f"{f} is high"}
        for f in features
    ]
    if ring:
        ring_id, size = ring
        items.append(
            {
                "feature": "ring_evidence",
                "ring_id": ring_id,
                "value": size,
                "text": f"ring {ring_id} of {size} accounts",
            }
        )
    return json.dumps(items)

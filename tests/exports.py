"""The snapshot an export taken at an instant would have produced, for the point-in-time tests of
every engine (tests/features, tests/pipeline). Written independently of
`features.time.known_at`, row by row, so that a shared mistake cannot hide.

A plain module (``from exports import ...``), not conftest.py: see tests/features/feature_frames.py.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

TABLES = ("accounts", "orders", "payment_attempts", "sessions", "labels")
EVENT = {
    "accounts": "created_at",
    "orders": "placed_at",
    "payment_attempts": "attempted_at",
    "sessions": "started_at",
    "labels": "decided_at",
}
STATES = ("paid_at", "shipped_at", "delivered_at", "cancelled_at")


def exported_at(tables: dict[str, pl.DataFrame], t: datetime) -> dict[str, pl.DataFrame]:
    """The snapshot an export taken at t would have produced, one row at a time."""
    out = {}
    for name in TABLES:
        rows = [row for row in tables[name].iter_rows(named=True) if row[EVENT[name]] < t]
        if name == "orders":
            for row in rows:
                for state in STATES:
                    if row[state] is not None and row[state] >= t:
                        row[state] = None
                if row["cancelled_at"] is None:
                    row["cancel_initiator"] = row["cancel_reason"] = None
                if row["paid_at"] is None:
                    row["payment_instrument_id"] = None
        out[name] = pl.DataFrame(rows, schema=tables[name].schema)
    return out

"""A slow, obviously-correct oracle for the point-in-time order counts.

A plain Python loop over order dicts decides, for each as-of instant t, what an export taken at
t would say (an order exists if placed before t; it is cancelled, and by whom, if the cancel
happened before t) and counts orders, cancels, buyer cancels and cancels by each initiator in
every window. It shares nothing with features.time or features.history but the window table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pytest
from feature_frames import DAY, HOUR, MIN, US, T, history_at, orders

from contract.values import CANCEL_INITIATORS as INITIATORS
from features.time import WINDOWS

REASONS = {
    "buyer": "changed_mind",
    "seller": "out_of_stock",
    "logistics": "customs_hold",
    "payment": "payment_timeout",
    "platform": "policy",
}


def random_orders(seed: int, n: int = 60) -> list[dict]:
    """n valid orders of six buyers over the 120 days before T, on whole minutes (so that window
    edges and equal instants happen), with every kind of ending."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        placed = T - int(rng.integers(0, 120 * 24 * 60)) * MIN
        row = dict(order_id=f"o{k}", account_id=f"a{rng.integers(0, 6)}", placed_at=placed)
        if rng.random() < 0.6:
            row["paid_at"] = placed + int(rng.integers(0, 180)) * MIN
            if rng.random() < 0.6:
                row["shipped_at"] = row["paid_at"] + int(rng.integers(60, 3 * 24 * 60)) * MIN
        last = row.get("shipped_at", row.get("paid_at", placed))
        if rng.random() < 0.55:
            who = str(rng.choice(INITIATORS))
            row.update(
                cancelled_at=last + int(rng.integers(0, 10 * 24 * 60)) * MIN,
                cancel_initiator=who,
                cancel_reason=REASONS[who],
            )
        elif "shipped_at" in row and rng.random() < 0.7:
            row["delivered_at"] = row["shipped_at"] + int(rng.integers(1, 6)) * DAY
        rows.append(row)
    return rows


def oracle(rows: list[dict], t: datetime) -> dict[str, dict[str, int]]:
    """{account: {column: count}} for every account with an order placed before t."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if not row["placed_at"] < t:
            continue  # not placed yet at t
        counts = out[row["account_id"]]
        cancelled_by_t = row.get("cancelled_at") is not None and row["cancelled_at"] < t
        who = row["cancel_initiator"] if cancelled_by_t else None
        for w, days in WINDOWS.items():
            if days is not None and row["placed_at"] < t - timedelta(days=days):
                continue
            counts[f"orders_{w}"] += 1
            counts[f"cancels_{w}"] += cancelled_by_t
            for initiator in INITIATORS:
                counts[f"{initiator}_cancels_{w}"] += who == initiator
    columns = [f"{c}_{w}" for w in WINDOWS for c in ("orders", "cancels", *(f"{i}_cancels" for i in INITIATORS))]
    return {acc: {c: counts[c] for c in columns} for acc, counts in out.items()}


def as_of_instants(rows: list[dict]) -> list[datetime]:
    """Instants with something on their edge: a placement exactly at t, exactly 1/7/30/90 days
    before t (and a microsecond later), a cancel exactly at t; plus plain ones."""
    placed = sorted(r["placed_at"] for r in rows)
    cancels = sorted(r["cancelled_at"] for r in rows if r.get("cancelled_at") is not None)
    return [
        T,
        T + 30 * DAY,  # later than everything
        T - 60 * DAY + 7 * HOUR,
        placed[30],
        placed[5] + timedelta(days=90),
        placed[20] + timedelta(days=30),
        placed[40] + timedelta(days=7),
        placed[50] + timedelta(days=1),
        placed[50] + timedelta(days=1) + US,
        cancels[len(cancels) // 2],
        cancels[len(cancels) // 2] + US,
    ]


@pytest.mark.parametrize("seed", [20260331, 7, 42])
def test_order_history_counts_match_a_plain_loop(seed):
    rows = random_orders(seed)
    frame = orders(*rows)
    for t in as_of_instants(rows):
        expected = oracle(rows, t)
        got = history_at(frame, t)
        assert set(got) == set(expected), t
        for account, counts in expected.items():
            assert {c: got[account][c] for c in counts} == counts, (t, account)


def test_the_oracle_sees_every_kind_of_case():
    """The random frame is only worth comparing if it has the cases the oracle distinguishes."""
    rows = random_orders(20260331)
    assert len(rows) == 60
    assert {r.get("cancel_initiator") for r in rows} >= set(INITIATORS)
    assert any(r.get("delivered_at") for r in rows)
    # at some instants an order is placed but its cancel is not yet known
    assert any(
        r["placed_at"] < t <= r["cancelled_at"] for t in as_of_instants(rows) for r in rows if r.get("cancelled_at")
    )

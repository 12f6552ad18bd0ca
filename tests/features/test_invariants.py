"""Invariants of the feature table on random simulated markets and random as-of instants."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from features.catalogue import catalogue
from features.history import HISTORY_SUMS
from features.payments import PAYMENT_SUMS
from features.time import WINDOWS
from simulator import MarketConfig, simulate_market

_markets: dict[int, dict[str, pl.DataFrame]] = {}


def features_at(seed: int, offset_days: float) -> pl.DataFrame:
    if seed not in _markets:
        _markets[seed] = simulate_market(MarketConfig(accounts=150, days=30, seed=seed))
    tables = _markets[seed]
    start = MarketConfig().start
    t = pl.Series([datetime(start.year, start.month, start.day)]).dt.replace_time_zone("UTC")[0] + timedelta(
        days=offset_days
    )
    return build_features(
        *(tables[n] for n in ("accounts", "orders", "payment_attempts", "sessions", "labels")), as_of=t
    )


settings.register_profile("features", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS, OFFSETS = st.integers(20, 23), st.floats(0.5, 31, allow_nan=False)


@settings(settings.get_profile("features"))
@given(seed=SEEDS, offset=OFFSETS)
def test_counts_never_shrink_as_the_window_widens(seed: int, offset: float) -> None:
    table = features_at(seed, offset)
    for stem in [s.stem for s in HISTORY_SUMS + PAYMENT_SUMS]:
        columns = [f"{stem}_{w}" for w in WINDOWS]
        for narrow, wide in pairwise(columns):
            assert (table[narrow] <= table[wide] + 1e-9).all(), (narrow, wide)


@settings(settings.get_profile("features"))
@given(seed=SEEDS, offset=OFFSETS)
def test_shares_stay_between_zero_and_one_and_counts_are_not_negative(seed: int, offset: float) -> None:
    table = features_at(seed, offset)
    for f in catalogue():
        column = table[f.name].drop_nulls()
        if f.unit == "share":
            assert column.is_between(0, 1).all(), f.name
        if "excess" not in f.name and f.unit in (
            "orders",
            "attempts",
            "accounts",
            "instruments",
            "sellers",
            "items",
            "devices",
            "cards",
            "addresses",
            "nets",
        ):
            assert (column >= 0).all(), f.name
    assert table["account_id"].is_unique().all()
    in_rings = table.filter(pl.col("ring_id").is_not_null())
    assert (in_rings["ring_size"] >= 2).all() and (table.filter(pl.col("ring_id").is_null())["ring_size"] == 1).all()

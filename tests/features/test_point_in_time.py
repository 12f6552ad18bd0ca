"""Point-in-time correctness: features as of T never depend on anything that happened after T.

The property: features computed as of T from the full snapshot equal those computed from the
snapshot as it would have been exported at T. The truncation (tests/exports.py) is written independently
of `features.time.known_at`, row by row, so that a shared mistake cannot hide.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from exports import TABLES, exported_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.build import build_features
from simulator import MarketConfig, simulate_market

_markets: dict[tuple[int, int, int], dict[str, pl.DataFrame]] = {}


def market(seed: int, accounts: int, days: int) -> dict[str, pl.DataFrame]:
    key = (seed, accounts, days)
    if key not in _markets:
        _markets[key] = simulate_market(MarketConfig(accounts=accounts, days=days, seed=seed))
    return _markets[key]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 3),
    accounts=st.sampled_from([60, 120]),
    offset=st.integers(0, 20 * 86_400_000_000),  # microseconds into the market
)
def test_features_as_of_t_ignore_everything_after_t(seed: int, accounts: int, offset: int) -> None:
    tables = market(seed, accounts, 21)
    start = MarketConfig().start
    t = pl.Series([datetime(start.year, start.month, start.day)]).dt.replace_time_zone("UTC")[0] + timedelta(
        microseconds=offset
    )
    full = build_features(*(tables[n] for n in TABLES), as_of=t)
    cut = build_features(*(exported_at(tables, t)[n] for n in TABLES), as_of=t)
    assert_frame_equal(full, cut)


@pytest.mark.parametrize("seed", [11, 12])
def test_an_independent_market_gives_identical_features_with_or_without_later_data(seed: int) -> None:
    """A market simulated for 30 days, scored as of day 20: the last 10 days change nothing."""
    tables = simulate_market(MarketConfig(accounts=400, days=30, seed=seed))
    as_of = MarketConfig().start + timedelta(days=19)
    t = pl.Series([datetime(as_of.year, as_of.month, as_of.day)]).dt.replace_time_zone("UTC")[0] + timedelta(days=1)
    later = tables["orders"].filter(pl.col("placed_at") >= t).height
    assert later > 0  # the property is only worth something if later data exists
    full = build_features(*(tables[n] for n in TABLES), as_of=as_of)
    cut = build_features(*(exported_at(tables, t)[n] for n in TABLES), as_of=as_of)
    assert_frame_equal(full, cut)
    assert full.height == tables["accounts"].filter(pl.col("created_at") < t).height

"""Fixtures: the documented market (sim_market.CONFIG) simulated once per session, and its
orders joined to the truth."""

from __future__ import annotations

import polars as pl
import pytest
from sim_market import CONFIG

from simulator import simulate_market


@pytest.fixture(scope="session")
def market() -> dict[str, pl.DataFrame]:
    return simulate_market(CONFIG)


@pytest.fixture(scope="session")
def orders(market) -> pl.DataFrame:
    return market["orders"].join(market["truth"], on="account_id")

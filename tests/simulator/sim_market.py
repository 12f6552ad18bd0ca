"""Shared by the simulator tests: the market whose proportions docs/simulator.md documents.

A plain module (``from sim_market import ...``), not conftest.py: see tests/features/feature_frames.py.
"""

from __future__ import annotations

import polars as pl

from simulator import MarketConfig

# Measured on a 20,000-account, 90-day market: large enough for stable shares, seconds to make.
CONFIG = MarketConfig(accounts=20_000, days=90, seed=5)


def share(frame: pl.DataFrame, mask: pl.Expr) -> float:
    """The share of `frame`'s rows where `mask` holds (null counts as not)."""
    return frame.select(mask.fill_null(False).mean()).item()

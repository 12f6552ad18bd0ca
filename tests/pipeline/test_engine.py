"""The local engine: the per-account families run by hash buckets of accounts give the same
table as one pass over every account, and the same as the pure composition in features.build."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.build import build_features
from pipeline.engine import build_local
from pipeline.snapshot import Snapshot
from simulator import MarketConfig, simulate_market

CONFIG = MarketConfig(accounts=120, days=21, seed=0)
AS_OF = CONFIG.start + timedelta(days=15)
_markets: dict[int, Snapshot] = {}


def market(seed: int) -> Snapshot:
    if seed not in _markets:
        tables = simulate_market(MarketConfig(accounts=CONFIG.accounts, days=CONFIG.days, seed=seed))
        _markets[seed] = Snapshot(**{name: tables[name] for name in Snapshot.__dataclass_fields__})
    return _markets[seed]


@settings(max_examples=8, deadline=None)
@given(buckets=st.integers(2, 7), seed=st.integers(0, 3))
def test_bucketed_features_equal_whole_table_features(buckets: int, seed: int) -> None:
    snap = market(seed)
    whole = build_local(snap, snap.labels, AS_OF)
    assert_frame_equal(whole, build_local(snap, snap.labels, AS_OF, buckets=buckets))


def test_the_engine_computes_what_the_pure_composition_computes() -> None:
    snap = market(0)
    pure = build_features(snap.accounts, snap.orders, snap.payment_attempts, snap.sessions, snap.labels, as_of=AS_OF)
    assert_frame_equal(build_local(snap, snap.labels, AS_OF), pure)

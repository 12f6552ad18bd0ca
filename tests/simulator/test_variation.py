"""Randomised pattern parameters (simulator.variation): deterministic for a seed, within the
documented ranges, applied to the market, and recorded in market.json."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline.snapshot import load_snapshot
from simulator import ABUSE, MarketConfig, simulate_market, write_market
from simulator.params import BEHAVIOUR_COLUMNS, DEFAULT_PATTERNS, SHARES
from simulator.variation import FIXED, market_patterns


def test_no_variation_gives_the_documented_tables():
    assert market_patterns(MarketConfig()) is DEFAULT_PATTERNS
    assert DEFAULT_PATTERNS.shares is SHARES


def test_variation_is_deterministic_for_a_seed_and_differs_between_seeds():
    first, again = (
        market_patterns(MarketConfig(seed=3, variation=0.5)),
        market_patterns(MarketConfig(seed=3, variation=0.5)),
    )
    assert first == again
    assert first != DEFAULT_PATTERNS
    assert first != market_patterns(MarketConfig(seed=4, variation=0.5))
    # The draw is its own: the market's size does not change it.
    assert first == market_patterns(MarketConfig(accounts=777, days=20, seed=3, variation=0.5))


def test_variation_changes_every_kind_of_pattern_parameter():
    varied = market_patterns(MarketConfig(seed=5, variation=0.8))
    for kind in ("shares", "behaviour", "order_rate", "flash", "own_entities", "shared_entities"):
        assert getattr(varied, kind) != getattr(DEFAULT_PATTERNS, kind), kind
    assert varied.card_trouble_failure != DEFAULT_PATTERNS.card_trouble_failure
    # Abusers' own parameters and the honest look-alikes' both move; `regular` never does.
    for pattern in ("hoarding_ring", "card_testing", "household", "fickle"):
        assert varied.behaviour[pattern] != DEFAULT_PATTERNS.behaviour[pattern], pattern
    assert varied.behaviour["regular"] == DEFAULT_PATTERNS.behaviour["regular"]


def within(value: float, default: float, variation: float) -> bool:
    return default * 2**-variation - 1e-12 <= value <= default * 2**variation + 1e-12


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), variation=st.floats(0.01, 1.0))
def test_every_varied_parameter_stays_in_its_documented_range(seed, variation):
    varied = market_patterns(MarketConfig(seed=seed, variation=variation))
    for name, (share, lo, hi) in varied.shares.items():
        default_share, default_lo, default_hi = DEFAULT_PATTERNS.shares[name]
        assert within(share, default_share, variation)
        if default_hi == 1:
            assert (lo, hi) == (1, 1), name  # a lone pattern stays lone
        else:
            assert min(default_lo, 2) <= lo <= hi and hi >= 2, name  # a group pattern stays one
    for name, row in varied.behaviour.items():
        values = dict(zip(BEHAVIOUR_COLUMNS, row, strict=True))
        assert all(0.0 <= v <= 1.0 for c, v in values.items() if c.startswith("p_")), name
        assert values["p_fail"] <= 0.95 and values["tries"] >= 1
        assert 0.0 <= values["disc_lo"] <= values["disc_hi"] <= 0.95
        if name in FIXED:
            assert row == DEFAULT_PATTERNS.behaviour[name]
    for name, rate in varied.order_rate.items():
        assert within(rate, DEFAULT_PATTERNS.order_rate[name], variation)
    for join, per_sale in varied.flash.values():
        assert 0.0 <= join <= 1.0 and per_sale >= 1.0
    for rows in varied.own_entities.values():
        assert all(1 <= lo <= hi for lo, hi in rows.values())
    for rows in varied.shared_entities.values():
        assert all(1 <= lo <= hi and per_member >= 1 and 0 <= share <= 1 for _, (lo, hi), per_member, share in rows)
    lo, hi = varied.card_trouble_failure
    assert 0.05 <= lo <= hi <= 0.95


@pytest.fixture(scope="module")
def varied_market(tmp_path_factory) -> tuple[MarketConfig, Path, dict]:
    cfg = MarketConfig(accounts=3000, days=40, seed=3, variation=0.6)
    out = tmp_path_factory.mktemp("varied")
    write_market(cfg, out)
    return cfg, out, json.loads((out / "market.json").read_text())


def test_a_varied_market_uses_its_drawn_shares_and_passes_validation(varied_market):
    cfg, out, _ = varied_market
    truth = pl.read_parquet(out / "truth.parquet")
    counts = dict(truth.group_by("pattern").len().iter_rows())
    for pattern, (share, lo, _) in market_patterns(cfg).shares.items():
        assert counts.get(pattern, 0) == max(round(share * cfg.accounts), lo if pattern in ABUSE else 0), pattern
    assert load_snapshot(out, reject_limit=0.0).rejects.height == 0


def test_market_json_records_every_parameter_after_the_draw(varied_market):
    cfg, _, recorded = varied_market
    assert recorded["config"]["variation"] == cfg.variation
    assert recorded["patterns"] == json.loads(json.dumps(market_patterns(cfg).as_dict()))
    assert recorded["patterns"] != json.loads(json.dumps(DEFAULT_PATTERNS.as_dict()))
    assert recorded["config"]["label_process"]["delay"]["median_days"] == pytest.approx(22.465, abs=0.01)


def test_a_varied_market_is_the_same_for_a_seed_and_not_the_default_one():
    cfg = MarketConfig(accounts=600, days=20, seed=8, variation=0.5)
    first, second = simulate_market(cfg), simulate_market(cfg)
    for name in first:
        assert_frame_equal(first[name], second[name])
    plain = simulate_market(MarketConfig(accounts=600, days=20, seed=8))
    assert not first["orders"].equals(plain["orders"])

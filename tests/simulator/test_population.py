"""The population: pattern shares and group sizes as declared (docs/simulator.md, "Who is in it")."""

from __future__ import annotations

import pytest
from sim_market import CONFIG

from simulator import ABUSE
from simulator.params import SHARES


def test_pattern_shares_match_the_declared_shares(market) -> None:
    truth = market["truth"]
    counts = dict(truth.group_by("pattern").len().iter_rows())
    for pattern, (declared, _, _) in SHARES.items():
        assert counts[pattern] == round(declared * CONFIG.accounts), pattern
    assert truth["is_abuser"].mean() == pytest.approx(0.035, abs=0.001)
    assert set(truth.filter("is_abuser")["pattern"].unique()) == set(ABUSE)

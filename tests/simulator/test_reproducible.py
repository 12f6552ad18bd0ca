"""The default market is the market the simulator has always made: with no variation and the
default label process, a seed gives byte for byte the tables it gave before the label process
and the variation existed (and before the simulator left the pipeline package).

The digests are SHA-256 of each table written as CSV, recorded from the simulator as it was
(commit b7e8d77, pipeline/simulate.py). A change that is meant to change the market updates
them in the same commit and says why; truth is compared on its original columns."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from simulator import LABEL_PROCESSES, MarketConfig, simulate_market

RECORDED = {
    "accounts": "baa7e038fa3c114c72778dfb4315f582ef56d286f7669007ec03791a8541e8c8",
    "sessions": "751e94a2c6dc5aed3c3168bcb73f6af2c9c4221124996cfa2b7da9030b8ea5cb",
    "labels": "434401ceb67e63c83213606dc1f9b78896af2607ae51e3645a4218115676233c",
    "truth": "6ceca901d69d84567c9283878ece43151cdd4fb00f39886497a024fd5f69d53a",
    "orders": "d1eb1ac39c33900ecd87d29f61b1e947d5922b63299afa60a78edb681cca1733",
    "payment_attempts": "54ce1831a60e5d557bbfa47d81be03937db141bb25f1b33fac1113253c66eff8",
}
TRUTH_BEFORE = ["account_id", "is_abuser", "pattern", "group", "remote"]  # truth's columns before first_abuse_at


def digest(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()


@pytest.fixture(scope="module")
def explicit_default() -> dict[str, pl.DataFrame]:
    cfg = MarketConfig(accounts=2000, days=30, seed=11, variation=0.0, label_process=LABEL_PROCESSES["default"])
    assert cfg == MarketConfig(accounts=2000, days=30, seed=11)
    return simulate_market(cfg)


@pytest.mark.parametrize("table", list(RECORDED))
def test_the_default_market_is_byte_identical_to_the_recorded_one(explicit_default, table):
    frame = explicit_default[table]
    if table == "truth":
        assert frame.columns[: len(TRUTH_BEFORE)] == TRUTH_BEFORE  # extended, not changed
        frame = frame.select(TRUTH_BEFORE)
    assert digest(frame) == RECORDED[table]


def test_truth_gains_a_nullable_first_abuse_time_for_abusers_only(explicit_default):
    truth = explicit_default["truth"]
    assert truth.schema["first_abuse_at"] == pl.Datetime("us", "UTC")
    assert (truth["first_abuse_at"].is_null() == ~truth["is_abuser"]).all()

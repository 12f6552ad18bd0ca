"""The label process (simulator.params.LabelProcess): delays from the first abuse, coverage,
bans or none, noise both ways, corrections, and the presets; measured on small seeded markets."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import LABEL_PROCESSES, LabelDelay, LabelProcess, MarketConfig, label_process, simulate_market
from simulator.labels import label_delays

EARLY = LabelDelay.from_median(2, 6)  # labels within days: most land well inside a short market
EXACT = {"ring_takedown": 0.0, "false_abuse": 0.0, "false_legit": 0.0}  # every label is an own, right verdict


@cache
def market(cfg: MarketConfig) -> dict[str, pl.DataFrame]:
    return simulate_market(cfg)


def end_of(cfg: MarketConfig):
    start = pl.datetime(cfg.start.year, cfg.start.month, cfg.start.day, time_zone="UTC")
    return pl.select(start + pl.duration(days=cfg.days)).item()


def first_abuse_labels(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """account_id, labelled_at: each account's first abuse label."""
    abuse = tables["labels"].filter(pl.col("label") == "abuse")
    return abuse.group_by("account_id").agg(labelled_at=pl.col("decided_at").min())


def after_label(tables: dict[str, pl.DataFrame], table: str, column: str) -> pl.DataFrame:
    """Rows of `table` at or after their account's first abuse label."""
    return (
        tables[table].join(first_abuse_labels(tables), on="account_id").filter(pl.col(column) >= pl.col("labelled_at"))
    )


# -- bans --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LABEL_PROCESSES))
def test_a_label_stops_the_account_exactly_when_the_process_bans(name):
    cfg = MarketConfig(accounts=3000, days=60, seed=31, label_process=LABEL_PROCESSES[name])
    tables = market(cfg)
    labelled = first_abuse_labels(tables)
    assert labelled.height > 10, "the preset labels too few accounts to tell"

    orders_after = after_label(tables, "orders", "placed_at")
    if cfg.label_process.bans:
        assert orders_after.height == 0
        assert after_label(tables, "sessions", "started_at").height == 0
        # An attempt after the ban can only finish an order placed before it.
        attempts = after_label(tables, "payment_attempts", "attempted_at").join(
            tables["orders"].select("order_id", "placed_at"), on="order_id"
        )
        assert (attempts["placed_at"] < attempts["labelled_at"]).all()
    else:
        # Most labelled accounts carry on: orders and sessions after their label.
        assert orders_after["account_id"].n_unique() > 0.3 * labelled.height
        assert after_label(tables, "sessions", "started_at").height > 0


def test_without_bans_labelled_abusers_keep_placing_orders_after_their_label():
    cfg = MarketConfig(accounts=3000, days=90, seed=32, label_process=LabelProcess(delay=EARLY, bans=False))
    tables = market(cfg)
    abusers = tables["truth"].filter("is_abuser").select("account_id")
    early = first_abuse_labels(tables).join(abusers, on="account_id")
    early = early.filter(pl.col("labelled_at") < end_of(cfg) - timedelta(days=20))
    carrying_on = after_label(tables, "orders", "placed_at").join(early.select("account_id"), on="account_id")
    assert carrying_on["account_id"].n_unique() > 0.6 * early.height


# -- coverage, delay ---------------------------------------------------------------------------


@pytest.mark.parametrize("coverage", [0.2, 0.6])
def test_the_share_of_abusers_labelled_lands_near_the_coverage(coverage):
    process = LabelProcess(delay=EARLY, coverage=coverage, **EXACT)
    cfg = MarketConfig(accounts=5000, days=150, seed=33, label_process=process)
    tables = market(cfg)
    # Abusers whose abuse began early enough that any label of theirs has landed.
    abusers = tables["truth"].filter(
        pl.col("is_abuser") & (pl.col("first_abuse_at") < end_of(cfg) - timedelta(days=30))
    )
    labelled = abusers.join(first_abuse_labels(tables), on="account_id", how="semi")
    assert abusers.height > 100
    assert labelled.height / abusers.height == pytest.approx(coverage, abs=0.1)


@pytest.mark.parametrize(
    "delay",
    [LabelDelay(), LabelDelay.from_median(3, 10), LabelDelay.from_median(20, 45, tail="lognormal", sigma=0.6)],
    ids=["default", "exponential-3-10", "lognormal-20-45"],
)
def test_label_delays_have_their_minimum_and_median(delay):
    days = label_delays(np.random.default_rng(0), delay, 200_000) / 86_400
    assert days.min() >= delay.min_days
    assert np.median(days) == pytest.approx(delay.median_days(), rel=0.02)


@pytest.mark.parametrize(
    "delay",
    [LabelDelay.from_median(3, 10), LabelDelay.from_median(20, 45, tail="lognormal", sigma=0.6)],
    ids=["exponential-3-10", "lognormal-20-45"],
)
def test_in_a_market_the_median_delay_from_first_abuse_lands_near_the_setting(delay):
    process = LabelProcess(delay=delay, coverage=1.0, **EXACT)
    cfg = MarketConfig(accounts=5000, days=365, seed=34, label_process=process)
    tables = market(cfg)
    horizon = end_of(cfg) - timedelta(days=150)  # any label of these has landed (tails aside)
    lag = (
        tables["truth"]
        .filter(pl.col("first_abuse_at") < horizon)
        .join(first_abuse_labels(tables), on="account_id")
        .select((pl.col("labelled_at") - pl.col("first_abuse_at")).dt.total_seconds() / 86_400)
        .to_series()
    )
    assert lag.len() > 80
    assert lag.min() >= delay.min_days
    assert lag.median() == pytest.approx(delay.median_days(), rel=0.2)


# -- noise and corrections ---------------------------------------------------------------------

NOISY = LabelProcess(false_abuse=0.2, false_legit=0.2, regular_review=0.1, lookalike_review=0.3, corrected=0.0)


def test_noise_labels_reviewed_honest_accounts_abuse_at_about_the_set_rate():
    tables = market(MarketConfig(accounts=5000, days=90, seed=35, label_process=NOISY))
    labels = tables["labels"].join(tables["truth"], on="account_id")
    honest = labels.filter(~pl.col("is_abuser"))
    assert honest.height > 500
    assert (honest["label"] == "abuse").mean() == pytest.approx(0.2, abs=0.06)
    abusers = labels.filter("is_abuser")
    assert 0.05 < (abusers["label"] == "legit").mean() < 0.4  # fewer abusers reviewed: a looser bound


def test_without_noise_every_label_is_right():
    tables = market(MarketConfig(accounts=3000, days=60, seed=36, label_process=LabelProcess(**EXACT)))
    labels = tables["labels"].join(tables["truth"], on="account_id")
    assert labels.height > 20
    assert (labels["is_abuser"] == (labels["label"] == "abuse")).all()


def test_corrections_add_a_later_row_with_the_opposite_label():
    process = LabelProcess(
        false_abuse=0.2,
        false_legit=0.2,
        regular_review=0.05,
        lookalike_review=0.2,
        corrected=1.0,
        correction_days=(2.0, 5.0),
    )
    cfg = MarketConfig(accounts=3000, days=90, seed=37, label_process=process)
    tables = market(cfg)
    rows = tables["labels"].join(tables["truth"], on="account_id").sort("account_id", "decided_at")
    right = pl.col("is_abuser") == (pl.col("label") == "abuse")
    per_account = rows.group_by("account_id").agg(
        n=pl.len(),
        first_right=right.first(),
        last_right=right.last(),
        first_at=pl.col("decided_at").first(),
        last_at=pl.col("decided_at").last(),
        labels=pl.col("label").n_unique(),
    )
    corrected = per_account.filter(pl.col("n") == 2)
    assert per_account["n"].max() == 2
    assert corrected.height > 20
    assert corrected["labels"].to_list() == [2] * corrected.height  # the opposite label ...
    assert (corrected["last_at"] > corrected["first_at"]).all()  # ... later ...
    assert not corrected["first_right"].any() and corrected["last_right"].all()  # ... and right
    # With every wrong label corrected within 5 days, each one decided earlier than that is.
    wrong_early = per_account.filter(~pl.col("first_right") & (pl.col("first_at") < end_of(cfg) - timedelta(days=5)))
    assert (wrong_early["n"] == 2).all()


# -- presets and overrides ---------------------------------------------------------------------


def test_the_presets_differ_as_documented():
    presets = LABEL_PROCESSES
    assert presets["default"] == LabelProcess()
    assert not presets["early-no-ban"].bans and presets["early-no-ban"].delay.median_days() < 7
    assert presets["late-ban"].bans and presets["late-ban"].delay.min_days >= 14
    assert presets["sparse-noisy"].coverage < 0.25 and presets["sparse-noisy"].false_abuse > 0.03
    assert not presets["chargeback"].bans and presets["chargeback"].chargeback_share == 1.0


def test_options_change_parts_of_a_preset():
    process = label_process("late-ban", coverage=0.5, bans=False, noise=0.1)
    assert (process.coverage, process.bans, process.false_abuse, process.false_legit) == (0.5, False, 0.1, 0.1)
    assert process.delay == LABEL_PROCESSES["late-ban"].delay and process.corrected == LabelProcess().corrected
    delayed = label_process("default", delay_days=(1, 3))
    assert (delayed.delay.min_days, delayed.delay.median_days()) == (1.0, pytest.approx(3.0, abs=0.01))
    tail_only = label_process("default", delay_tail="lognormal")
    assert tail_only.delay.tail == "lognormal"
    assert tail_only.delay.median_days() == pytest.approx(LabelDelay().median_days(), abs=0.01)
    assert label_process("default") == LabelProcess()


@pytest.mark.parametrize(
    "make",
    [
        lambda: label_process("lenient"),
        lambda: LabelProcess(coverage=1.5),
        lambda: LabelProcess(false_abuse=-0.1),
        lambda: LabelProcess(correction_days=(5.0, 5.0)),
        lambda: LabelProcess(chargeback_patterns=("no_such_pattern",)),
        lambda: LabelDelay(tail="uniform"),
        lambda: LabelDelay.from_median(10, 5),
        lambda: MarketConfig(variation=1.5),
    ],
    ids=["preset", "coverage", "noise", "corrections", "chargeback", "tail", "median", "variation"],
)
def test_an_impossible_setting_is_refused(make):
    with pytest.raises(ValueError):
        make()


# -- invariants --------------------------------------------------------------------------------

processes = st.builds(
    LabelProcess,
    delay=st.builds(
        LabelDelay.from_median,
        min_days=st.floats(0, 10),
        median_days=st.floats(11, 60),
        tail=st.sampled_from(["exponential", "lognormal"]),
    ),
    coverage=st.floats(0, 1),
    bans=st.booleans(),
    ring_takedown=st.floats(0, 1),
    false_abuse=st.floats(0, 0.5),
    false_legit=st.floats(0, 0.5),
    corrected=st.floats(0, 1),
    regular_review=st.floats(0, 0.1),
    lookalike_review=st.floats(0, 0.3),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), process=processes, variation=st.sampled_from([0.0, 0.5, 1.0]))
def test_labels_and_first_abuse_stay_inside_the_market_and_the_account_life(seed, process, variation):
    cfg = MarketConfig(accounts=400, days=40, seed=seed, variation=variation, label_process=process)
    tables = simulate_market(cfg)
    start, end = end_of(cfg) - timedelta(days=cfg.days), end_of(cfg)
    labels = tables["labels"]
    assert labels["decided_at"].is_between(start, end, closed="left").all()

    truth = tables["truth"].join(tables["accounts"].select("account_id", "created_at"), on="account_id")
    assert (truth["first_abuse_at"].is_not_null() == truth["is_abuser"]).all()
    abusers = truth.filter("is_abuser")
    assert (abusers["first_abuse_at"] >= abusers["created_at"]).all()
    assert (abusers["first_abuse_at"] < end).all()
    # Every label of an abuser comes at least the minimum delay after its first abuse.
    lag = labels.join(abusers, on="account_id").select(pl.col("decided_at") - pl.col("first_abuse_at")).to_series()
    assert (lag.dt.total_seconds() >= round(process.delay.min_days * 86_400)).all()
    # At most a verdict and its correction, the correction later and opposite.
    pairs = labels.sort("decided_at").group_by("account_id").agg(pl.len(), pl.col("label").n_unique().alias("kinds"))
    assert pairs["len"].max() is None or pairs["len"].max() <= 2
    assert (pairs.filter(pl.col("len") == 2)["kinds"] == 2).all()
    if process.bans:
        assert after_label(tables, "orders", "placed_at").height == 0

"""models.drift: the population stability index, and each column compared by its kind (column_drift)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from models.drift import CATEGORICAL, CONTINUOUS, PSI_WARN, column_drift, psi

RNG = np.random.default_rng(7)
BEFORE = RNG.normal(0.0, 1.0, 5000)


def test_identical_distributions_have_no_drift():
    assert psi(BEFORE, BEFORE.copy()) == pytest.approx(0.0, abs=1e-12)


def test_a_fresh_sample_of_the_same_distribution_is_stable():
    assert psi(BEFORE, np.random.default_rng(8).normal(0.0, 1.0, 5000)) < 0.1


def test_a_shifted_distribution_is_flagged():
    assert psi(BEFORE, BEFORE + 1.0) > PSI_WARN


def test_nans_are_ignored_on_both_sides():
    with_nans = np.r_[BEFORE, np.full(2000, np.nan)]

    assert psi(with_nans, BEFORE) == pytest.approx(0.0, abs=1e-12)
    assert psi(BEFORE, with_nans) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(psi(BEFORE, np.full(3, np.nan)))  # nothing left to compare


def test_bins_are_the_previous_deciles_and_empty_bins_are_floored():
    # 1..10 puts one value in each decile bin (share 0.1); all of `actual` lands in the last bin,
    # the nine empty bins count as 1e-4 rather than making the logarithm infinite.
    expected = np.arange(1.0, 11.0)
    actual = np.full(20, 10.0)

    want = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + (1.0 - 0.1) * math.log(1.0 / 0.1)
    assert psi(expected, actual) == pytest.approx(want)


# -- column_drift: each column by its kind ----------------------------------------------------------


def test_a_low_cardinality_count_from_the_same_process_is_not_drift():
    # A count feature (mostly 0): decile bins collapse on its ties; its frequencies do not.
    rng = np.random.default_rng(3)
    before = pl.Series(rng.poisson(0.2, 20_000).astype(float))
    after = pl.Series(rng.poisson(0.2, 20_000).astype(float))

    found = column_drift("orders_1d", before, after)

    assert found.kind == CATEGORICAL and not found.drifted
    assert column_drift("orders_1d", before, before).statistic == 0


def test_a_continuous_column_with_ties_and_nulls_is_compared_without_bins():
    rng = np.random.default_rng(4)
    values = np.round(rng.lognormal(3, 1, 10_000), 0)  # heavy ties
    values[:2000] = np.nan
    before, after = pl.Series(values), pl.Series(rng.permutation(values))

    same = column_drift("amount", before, after)
    shifted = column_drift("amount", before, pl.Series(values * 1.5))

    assert same.kind == CONTINUOUS and same.statistic == pytest.approx(0, abs=1e-9) and not same.drifted
    assert shifted.drifted


def test_a_change_in_the_share_of_nulls_is_drift_and_an_all_null_column_is_finite():
    present = pl.Series(np.arange(1000, dtype=float))
    empty = pl.Series([None] * 1000, dtype=pl.Float64)

    assert column_drift("x", present, empty).drifted
    all_null = column_drift("x", empty, empty)
    assert math.isfinite(all_null.statistic) and not all_null.drifted


def test_text_and_bool_columns_are_compared_by_frequency():
    assert column_drift("c", pl.Series(["a", "b"] * 50), pl.Series(["a"] * 100)).drifted
    assert not column_drift("b", pl.Series([True, False] * 50), pl.Series([False, True] * 50)).drifted

"""models.drift.psi: the population stability index between two runs' values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.drift import PSI_WARN, psi

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

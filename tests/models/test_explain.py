"""models.explain.reasons: the JSON an analyst reads for each flagged account."""

from __future__ import annotations

import json
import re
from datetime import date

import numpy as np
import polars as pl
import pytest

from features.columns import Unit
from models.estimator import AbuseClassifier
from models.explain import _shown, contributions, reasons

NAMES = ["buyer_cancels_30d", "account_age_days", "ring_size"]


def no_nan(token: str):
    raise AssertionError(f"{token} in the reasons JSON")


def parse(text: str) -> list[dict]:
    """Strict JSON: NaN and Infinity, which json.dumps writes by default, are refused."""
    return json.loads(text, parse_constant=no_nan)


@pytest.fixture(scope="module")
def population() -> pl.DataFrame:
    """600 accounts: abusers cancel more, are often of unknown age and sit in rings."""
    rng = np.random.default_rng(3)
    n = 600
    abuse = rng.random(n) < 0.3
    age = np.where(abuse & (rng.random(n) < 0.7), np.nan, rng.uniform(1, 400, n))
    return pl.DataFrame(
        {
            "account_id": [f"u{i}" for i in range(n)],
            "buyer_cancels_30d": np.where(abuse, rng.poisson(8, n), rng.poisson(1, n)).astype(float),
            "account_age_days": age,
            "ring_size": np.where(abuse & (rng.random(n) < 0.5), rng.integers(3, 10, n), 1).astype(float),
            "y": abuse.astype(int),
        }
    )


@pytest.fixture(scope="module")
def model(population: pl.DataFrame) -> AbuseClassifier:
    m = AbuseClassifier(n_estimators=40, num_leaves=7, min_child_samples=5, subsample=1.0, colsample_bytree=1.0, bags=1)
    return m.fit(population.select(NAMES).to_pandas(), population["y"].to_numpy())


def flagged(*rows: dict) -> pl.DataFrame:
    """Flagged accounts: the model's features plus the ring columns the ring evidence quotes."""
    defaults = {
        "ring_id": None,
        "ring_size": 1.0,
        "ring_known_abuser_share": None,
        "max_accounts_per_device": 1.0,
        "max_accounts_per_card": 1.0,
    }
    schema = {
        "account_id": pl.String,
        **dict.fromkeys(NAMES, pl.Float64),
        "ring_id": pl.String,
        "ring_known_abuser_share": pl.Float64,
        "max_accounts_per_device": pl.Float64,
        "max_accounts_per_card": pl.Float64,
    }
    return pl.DataFrame([{**defaults, **row} for row in rows], schema=schema)


RING_MEMBER = {
    "account_id": "r",
    "buyer_cancels_30d": 12.0,
    "account_age_days": 3.0,
    "ring_id": "R-u7",
    "ring_size": 5.0,
    "ring_known_abuser_share": 0.5,
    "max_accounts_per_device": 4.0,
    "max_accounts_per_card": 2.0,
}
LONER = {"account_id": "s", "buyer_cancels_30d": 0.0, "account_age_days": 2.0}  # few cancels: that reason pushes down
UNKNOWN_AGE = {"account_id": "t", "buyer_cancels_30d": 9.0, "account_age_days": None}


@pytest.fixture(scope="module")
def explained(model, population) -> tuple[pl.DataFrame, list[list[dict]], np.ndarray]:
    rows = flagged(RING_MEMBER, LONER, UNKNOWN_AGE)
    texts = reasons(model, rows, population, NAMES)
    assert all(isinstance(t, str) for t in texts)
    return rows, [parse(t) for t in texts], contributions(model, rows, NAMES)


def test_one_valid_json_list_per_flagged_account(explained):
    rows, parsed, _ = explained

    assert len(parsed) == rows.height == 3
    assert all(isinstance(items, list) and items for items in parsed)
    for items in parsed:
        for item in items:
            assert {"feature", "value", "contribution", "text"} <= set(item)


def test_only_known_features_pushing_the_score_up_are_reasons_most_extreme_first(explained):
    _, parsed, contrib = explained

    for r, items in enumerate(parsed):
        features = [item for item in items if item["feature"] != "ring_evidence"]
        assert all(contrib[r, NAMES.index(f["feature"])] > 0 for f in features)
        assert all(f["value"] is not None and f["percentile"] is not None for f in features)
        extremeness = [abs(f["percentile"] - 50) for f in features]
        assert extremeness == sorted(extremeness, reverse=True)
        assert [f["contribution"] for f in features] == [
            round(float(contrib[r, NAMES.index(f["feature"])]), 4) for f in features
        ]
    assert contrib[1, NAMES.index("buyer_cancels_30d")] < 0  # the loner's few cancels are no reason
    assert "buyer_cancels_30d" not in [item["feature"] for item in parsed[1]]


def test_each_reason_quotes_value_percentile_and_typical_value(explained, population):
    _, parsed, _ = explained
    cancels = next(item for item in parsed[0] if item["feature"] == "buyer_cancels_30d")
    population_cancels = population["buyer_cancels_30d"].to_numpy()

    assert cancels["value"] == 12.0
    assert cancels["percentile"] == round(100 * float(np.mean(population_cancels <= 12.0)), 1)
    assert cancels["typical"] == float(np.median(population_cancels))
    assert cancels["text"].startswith("orders cancelled by the buyer, last 30 days: 12 (")


def test_ring_evidence_only_for_ring_members(explained):
    _, parsed, contrib = explained

    rings = [[item for item in items if item["feature"] == "ring_evidence"] for items in parsed]
    assert [len(r) for r in rings] == [1, 0, 0]
    ring = rings[0][0]
    assert ring["ring_id"] == "R-u7"
    assert ring["value"] == 5
    assert ring["confirmed_members"] == 2  # half of the 4 other members
    assert ring["contribution"] == round(float(contrib[0, NAMES.index("ring_size")]), 4)
    assert ring["text"] == (
        "ring R-u7 of 5 accounts; its most shared device is used by 4 accounts and its most shared card by 2; "
        "2 other member(s) already confirmed abusers"
    )


def test_an_unknown_value_is_never_cited_even_when_it_drives_the_score(explained):
    _, parsed, contrib = explained

    assert contrib[2, NAMES.index("account_age_days")] > 0  # an unknown age is suspicious in this population
    assert "account_age_days" not in [item["feature"] for item in parsed[2]]
    assert all("unknown" not in item["text"] and "nan" not in item["text"] for items in parsed for item in items)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (3.0, "minutes", "3 minutes"),
        (90.0, "minutes", "1.5 hours"),
        (2880.0, "minutes", "2 days"),
        (1.0, "days", "1 day"),
        (0.25, "days", "6 hours"),
        (412.0, "days", "412 days"),
        (12345.0, "orders", "12,345"),
        (2.0, "accounts", "2"),
        (1234567.0, "USD", "1,234,567 USD"),
        (12.5, "USD", "12.50 USD"),
        (0.123, "share", "12%"),
        (1.0, "0/1", "yes"),
        (0.000012, "index 0..1", "0"),
    ],
)
def test_values_are_shown_in_a_persons_units(value, unit, text):
    assert _shown(value, Unit(unit)) == text


def test_texts_name_the_runs_date_not_t(model, population):
    items = parse(reasons(model, flagged(RING_MEMBER), population, NAMES, as_of=date(2026, 3, 11))[0])

    age = next(item for item in items if item["feature"] == "account_age_days")
    assert "days from registration to 2026-03-11" in age["text"]
    assert not any(re.search(r"\bt\b", item["text"]) for item in items)


def test_top_limits_the_number_of_feature_reasons(model, population):
    items = parse(reasons(model, flagged(RING_MEMBER), population, NAMES, top=1)[0])

    assert [item["feature"] for item in items][-1] == "ring_evidence"
    assert len([item for item in items if item["feature"] != "ring_evidence"]) == 1


def test_no_flagged_accounts_no_reasons(model, population):
    assert reasons(model, flagged(RING_MEMBER).head(0), population, NAMES) == []


def test_a_merely_typical_value_gives_way_to_the_next_reason(model, population):
    # Young accounts push the score up; in a scored population where everyone is 2 days old,
    # being 2 days old explains nothing, so that reason gives way to the next.
    row = flagged({"account_id": "m", "buyer_cancels_30d": 12.0, "account_age_days": 2.0, "ring_size": 1.0})
    contrib = dict(zip(NAMES, contributions(model, row, NAMES)[0], strict=True))
    assert contrib["account_age_days"] > 0 and contrib["buyer_cancels_30d"] > 0  # both would be reasons

    all_new = population.with_columns(account_age_days=pl.lit(2.0))
    shown = [item["feature"] for item in parse(reasons(model, row, all_new, NAMES)[0])]
    assert "account_age_days" not in shown and "buyer_cancels_30d" in shown
    assert "account_age_days" in [item["feature"] for item in parse(reasons(model, row, population, NAMES)[0])]

"""models.estimator: the column check that refuses a feature table of another shape, and the
fit's refusal of a training set without both classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from features.catalogue import feature_names
from models.estimator import AbuseClassifier, check_columns, fit_examples, predict

EXPECTED = {"orders_7d": "Float64", "cancel_rate_7d": "Float64", "ring_size": "Float64"}


def table(**changes: pl.Series | list | None) -> pl.DataFrame:
    """Two accounts with the three expected columns as Float64, then `changes` (None drops a column)."""
    columns = {"account_id": ["a", "b"], "orders_7d": [1.0, 2.0], "cancel_rate_7d": [0.1, 0.5], "ring_size": [1.0, 4.0]}
    return pl.DataFrame({name: values for name, values in (columns | changes).items() if values is not None})


def refusal(features: pl.DataFrame, expected: dict[str, str] = EXPECTED) -> str:
    with pytest.raises(ValueError) as refused:
        check_columns(features, expected)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_a_matching_table_passes_extra_columns_and_order_do_not_matter():
    check_columns(table(extra=["x", "y"]).select("ring_size", "extra", "orders_7d", "cancel_rate_7d"), EXPECTED)


def test_a_missing_column_is_named():
    assert (
        refusal(table(cancel_rate_7d=None))
        == "feature table does not match the model's signature: missing cancel_rate_7d"
    )


def test_a_retyped_column_is_named_with_both_types():
    assert refusal(table(ring_size=pl.Series([1, 4], dtype=pl.Int64))) == (
        "feature table does not match the model's signature: ring_size is Int64 not Float64"
    )


def test_missing_and_retyped_are_reported_together():
    assert refusal(table(orders_7d=None, ring_size=pl.Series(["1", "4"]))) == (
        "feature table does not match the model's signature: missing orders_7d; ring_size is String not Float64"
    )


def test_a_long_list_of_missing_columns_is_cut_short():
    expected = {f"m{i}": "Float64" for i in range(7)}

    assert refusal(table(), expected) == (
        "feature table does not match the model's signature: missing m0, m1, m2, m3, m4 and 2 more"
    )


def catalogue_frame(y: list[int], days_ago: list[float] | None = None, signal: bool = False) -> pl.DataFrame:
    """Random features (the first one carries the label when `signal`), decided `days_ago`
    before 2026-03-31 (default: spread over 60 days)."""
    rng = np.random.default_rng(0)
    n = len(y)
    days_ago = days_ago if days_ago is not None else list(np.linspace(60, 0, n))
    end = datetime(2026, 3, 31, tzinfo=UTC)
    frame = pl.DataFrame({name: rng.random(n) for name in feature_names()})
    if signal:
        frame = frame.with_columns(pl.Series(feature_names()[0], np.array(y) + rng.normal(0, 0.8, n)))
    return frame.with_columns(
        y=pl.Series(y, dtype=pl.Int8),
        weight=pl.lit(1.0),
        presumed=pl.lit(False),
        decided_at=pl.Series([end - timedelta(days=d) for d in days_ago], dtype=pl.Datetime("us", "UTC")),
    )


def test_fit_refuses_a_training_set_without_both_classes():
    with pytest.raises(ValueError, match="needs both abuse and legit examples"):
        fit_examples(AbuseClassifier(n_estimators=5), catalogue_frame([0] * 30))
    with pytest.raises(ValueError, match="needs both abuse and legit examples"):
        fit_examples(AbuseClassifier(n_estimators=5), catalogue_frame([1] * 30))


def test_fit_then_predict_gives_a_probability_per_row():
    train = catalogue_frame([0, 1] * 40)
    unfitted = AbuseClassifier(n_estimators=5, min_child_samples=2, bags=2)
    model = fit_examples(unfitted, train)

    assert model is unfitted  # fit returns the estimator itself ...
    check_is_fitted(model)  # ... with its learned state in attributes ending in _
    assert clone(model).get_params() == model.get_params()  # hyper-parameters live in the constructor
    p = predict(model, train, feature_names())
    assert p.shape == (80,)
    assert ((p >= 0) & (p <= 1)).all()
    # The probability of the log-odds averaged over the bags.
    raw = np.mean(
        [b.predict(train.select(feature_names()).to_pandas(), raw_score=True) for b in model.boosters_], axis=0
    )
    assert np.allclose(p, 1 / (1 + np.exp(-raw)))


def test_bagging_separates_the_ties_of_shallow_trees():
    train = catalogue_frame([0, 1] * 200, signal=True)
    shallow = dict(n_estimators=20, num_leaves=3, min_child_samples=40)

    one = predict(fit_examples(AbuseClassifier(**shallow, bags=1), train), train, feature_names())
    three = predict(fit_examples(AbuseClassifier(**shallow, bags=3), train), train, feature_names())

    assert len(np.unique(three)) > len(np.unique(one))


def test_a_value_missing_only_at_scoring_is_read_as_the_training_median():
    train = catalogue_frame([0, 1] * 100, signal=True)
    model = fit_examples(AbuseClassifier(n_estimators=30, min_child_samples=5, bags=1), train)
    first = feature_names()[0]
    row = train.head(1)

    missing = predict(model, row.with_columns(pl.lit(None, pl.Float64).alias(first)), feature_names())
    median = predict(model, row.with_columns(pl.lit(float(train[first].median())).alias(first)), feature_names())

    assert missing == pytest.approx(median, abs=1e-12)

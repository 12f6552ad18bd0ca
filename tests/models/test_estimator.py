"""models.estimator: the column check that refuses a feature table of another shape, and the
fit's refusal of a training set without both classes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.build import feature_names
from models.estimator import ModelConfig, check_columns, fit, predict

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
    assert refusal(table(cancel_rate_7d=None)) == "feature table does not match the model's signature: missing cancel_rate_7d"


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


def catalogue_frame(y: list[int]) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = len(y)
    return pl.DataFrame({name: rng.random(n) for name in feature_names()}).with_columns(
        y=pl.Series(y, dtype=pl.Int8), weight=pl.lit(1.0)
    )


def test_fit_refuses_a_training_set_without_both_classes():
    with pytest.raises(ValueError, match="needs both abuse and legit examples"):
        fit(catalogue_frame([0] * 30), catalogue_frame([0, 1]), ModelConfig(n_estimators=5))
    with pytest.raises(ValueError, match="needs both abuse and legit examples"):
        fit(catalogue_frame([1] * 30), catalogue_frame([0, 1]), ModelConfig(n_estimators=5))


def test_fit_then_predict_gives_a_probability_per_row():
    train = catalogue_frame([0, 1] * 40)
    model = fit(train, train.head(0), ModelConfig(n_estimators=5, min_child_samples=2))

    p = predict(model, train, feature_names())
    assert p.shape == (80,)
    assert ((p >= 0) & (p <= 1)).all()
    assert np.allclose(predict(model.booster_, train, feature_names()), p)

"""The estimator (scikit-learn contract, LightGBM inside) and the feature set it is trained on.

The feature set is named and versioned in ``features.build``; the model records the exact
column list, and ``check_columns`` refuses a table of any other shape before scoring.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from features.build import FEATURE_SET_VERSION
from features.catalogue import feature_names


def feature_frame(features: pl.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """The model's input: exactly the feature columns, Float64, as pandas."""
    return features.select(names or feature_names()).to_pandas()


class AbuseClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM on the feature table, bagged over seeds.

    The constructor stores the hyper-parameters (``pipeline.train`` chooses them on the
    backtest); ``fit`` learns ``boosters_`` (one LightGBM Booster per bag), ``classes_``,
    ``feature_names_in_`` and ``fill_values_``, and returns the estimator.

    * Bags: `bags` boosters differing only in their random seed (rows and columns are
      subsampled), whose log-odds are averaged. A single booster of shallow trees gives many
      accounts exactly the same score; the average separates them, so the queue does not cut
      through a block of ties.
    * Classes: the positives carry the same total weight as the negatives.
    * Missing values: a column that was missing in training follows the branch LightGBM
      learned for it. A value missing only at scoring, in a column training always saw, is read
      as the training median (a typical value): a missing value never raises a score by itself.
    * `n_jobs` is explicit: on two cores with the other one busy, two LightGBM threads were
      measured 1.5x slower than one (docs/benchmarks.md).
    """

    def __init__(
        self,
        n_estimators: int = 400,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 1.0,
        bags: int = 3,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.bags = bags
        self.n_jobs = n_jobs
        self.random_state = random_state

    def lgbm_params(self, seed: int) -> dict:
        """The LightGBM parameters of one bag."""
        params = self.get_params()
        params.pop("bags")
        return {
            **params,
            "random_state": seed,
            "subsample_freq": 1,
            "verbose": -1,
            "deterministic": True,
            "force_row_wise": True,
        }

    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None) -> AbuseClassifier:
        """Fit on X (feature columns), y (1 = abuse) and weights."""
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if not (len(y) and 0 < weight[y == 1].sum() < weight.sum()):
            raise ValueError("training needs both abuse and legit examples")
        balance = float(weight[y == 0].sum() / weight[y == 1].sum())
        self.boosters_ = [
            lgb.LGBMClassifier(**self.lgbm_params(self.random_state + bag), scale_pos_weight=balance)
            .fit(X, y, sample_weight=weight)
            .booster_
            for bag in range(max(self.bags, 1))
        ]
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        never_missing = [c for c in X.columns if not X[c].isna().any()]
        self.fill_values_ = X[never_missing].median().to_dict()
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """The log-odds of abuse, averaged over the bags."""
        check_is_fitted(self, "boosters_")
        X = self._prepared(X)
        return np.mean([b.predict(X, raw_score=True) for b in self.boosters_], axis=0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(rows, 2): the probability of legit and of abuse."""
        abuse = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - abuse, abuse])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """(rows, features + 1): each feature's share of the averaged log-odds, and the bias last."""
        check_is_fitted(self, "boosters_")
        X = self._prepared(X)
        return np.mean([b.predict(X, pred_contrib=True) for b in self.boosters_], axis=0)

    def gain_importance(self) -> np.ndarray:
        """Total gain of each feature, summed over the bags."""
        check_is_fitted(self, "boosters_")
        return np.sum([b.feature_importance("gain") for b in self.boosters_], axis=0)

    def split_importance(self) -> np.ndarray:
        """Times each feature is split on, summed over the bags."""
        check_is_fitted(self, "boosters_")
        return np.sum([b.feature_importance("split") for b in self.boosters_], axis=0)

    def _prepared(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's columns in training order, with values missing only at scoring filled."""
        return X[list(self.feature_names_in_)].fillna(self.fill_values_)


def fit_examples(model: AbuseClassifier, examples: pl.DataFrame, names: list[str] | None = None) -> AbuseClassifier:
    """`model` fitted on training examples (feature columns, y, weight)."""
    return model.fit(feature_frame(examples, names), examples["y"].to_numpy(), examples["weight"].to_numpy())


def check_columns(features: pl.DataFrame, expected: dict[str, str], feature_set: str | None = None) -> None:
    """Raise ValueError, in one line, if `features` lacks a column the model was trained on or
    holds it with another type (`expected` maps column name to polars type name), or if the model
    was trained on another feature-set version than the code now builds (same names, other
    meaning)."""
    if feature_set is not None and feature_set != FEATURE_SET_VERSION:
        raise ValueError(
            f"the model was trained on feature set {feature_set}, this code builds {FEATURE_SET_VERSION}: retrain"
        )
    missing = [c for c in expected if c not in features.columns]
    retyped = [
        f"{c} is {features.schema[c]} not {t}"
        for c, t in expected.items()
        if c in features.columns and str(features.schema[c]) != t
    ]
    problems = (
        [f"missing {', '.join(missing[:5])}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")]
        if missing
        else []
    ) + retyped[:5]
    if problems:
        raise ValueError("feature table does not match the model's signature: " + "; ".join(problems))


def predict(model: AbuseClassifier, features: pl.DataFrame, names: list[str]) -> np.ndarray:
    """Probability of abuse per row."""
    return model.predict_proba(feature_frame(features, names))[:, 1]

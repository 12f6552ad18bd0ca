"""The estimator (scikit-learn contract, LightGBM inside) and the feature set it is trained on.

The feature set is named and versioned in ``features.build``; the model records the exact
column list, and ``check_columns`` refuses a table of any other shape before scoring.
"""

from __future__ import annotations

from datetime import timedelta

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
    """LightGBM on the feature table, with the number of rounds chosen forward in time.

    The constructor stores the hyper-parameters; ``fit`` learns ``booster_`` (a LightGBM
    Booster), ``rounds_``, ``classes_`` and ``feature_names_in_`` and returns the estimator.
    `n_jobs` is explicit: on two cores with the other one busy, two LightGBM threads were
    measured 1.5x slower than one (docs/benchmarks.md).

    Rounds: a probe model is fitted on the examples decided before the last
    `early_stopping_days` of the training period and stopped early on the labelled examples
    decided in those days (average precision); the model is then refitted on every example with
    that many rounds, or `default_rounds` when those days lack a class.
    """

    def __init__(
        self,
        n_estimators: int = 1500,  # the most rounds early stopping may choose
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 100,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 100,
        early_stopping_days: int = 14,
        default_rounds: int = 300,
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
        self.early_stopping_rounds = early_stopping_rounds
        self.early_stopping_days = early_stopping_days
        self.default_rounds = default_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def lgbm_params(self, rounds: int) -> dict:
        """The LightGBM parameters of a fit with `rounds` rounds."""
        params = self.get_params()
        for key in ("early_stopping_rounds", "early_stopping_days", "default_rounds"):
            params.pop(key)
        return {
            **params,
            "n_estimators": rounds,
            "subsample_freq": 1,
            "verbose": -1,
            "deterministic": True,
            "force_row_wise": True,
            "metric": "average_precision",
        }

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        decided_at: np.ndarray | None = None,
        labelled: np.ndarray | None = None,
    ) -> AbuseClassifier:
        """Fit on X (feature columns), y (1 = abuse) and weights; `decided_at` (when each label
        became known) and `labelled` (False for presumed-legit rows) choose the rounds."""
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if not _both_classes(y):
            raise ValueError("training needs both abuse and legit examples before the validation window")
        rounds = self.default_rounds
        if decided_at is not None:
            decided_at = pd.to_datetime(np.asarray(decided_at), utc=True)
            labelled = np.ones(len(y), dtype=bool) if labelled is None else np.asarray(labelled, dtype=bool)
            stop_from = decided_at.max() - timedelta(days=self.early_stopping_days)
            core, holdout = decided_at < stop_from, (decided_at >= stop_from) & labelled
            if _both_classes(y[core]) and _both_classes(y[holdout]):
                probe = self._classifier(y[core], weight[core], self.n_estimators)
                probe.fit(
                    X[core],
                    y[core],
                    sample_weight=weight[core],
                    eval_X=(X[holdout],),
                    eval_y=(y[holdout],),
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)],
                )
                rounds = max(int(probe.best_iteration_ or self.n_estimators), 1)
        final = self._classifier(y, weight, rounds).fit(X, y, sample_weight=weight)
        self.booster_ = final.booster_
        self.rounds_ = rounds
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(rows, 2): the probability of legit and of abuse."""
        check_is_fitted(self, "booster_")
        abuse = self.booster_.predict(X[list(self.feature_names_in_)])
        return np.column_stack([1 - abuse, abuse])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _classifier(self, y: np.ndarray, weight: np.ndarray, rounds: int) -> lgb.LGBMClassifier:
        """An unfitted LightGBM whose positives carry the same total weight as the negatives."""
        positive = weight[y == 1].sum()
        return lgb.LGBMClassifier(**self.lgbm_params(rounds), scale_pos_weight=float(weight[y == 0].sum() / positive))


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(np.sum(y)) < len(y)


def fit_examples(model: AbuseClassifier, examples: pl.DataFrame, names: list[str] | None = None) -> AbuseClassifier:
    """`model` fitted on training examples (feature columns, y, weight, decided_at, presumed)."""
    return model.fit(
        feature_frame(examples, names),
        examples["y"].to_numpy(),
        sample_weight=examples["weight"].to_numpy(),
        decided_at=examples["decided_at"].to_numpy(),
        labelled=~examples["presumed"].to_numpy(),
    )


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

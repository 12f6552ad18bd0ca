"""The LightGBM estimator and the feature set it is trained on.

The feature set is named and versioned in ``features.build``; the model records the exact
column list, and ``check_columns`` refuses a table of any other shape before scoring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl

from features.build import FEATURE_SET_VERSION, feature_names


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters. `n_jobs` is explicit: on two cores with the other one busy, two
    LightGBM threads were measured 1.5x slower than one (docs/benchmarks.md)."""

    n_estimators: int = 1500  # the most rounds early stopping may choose
    learning_rate: float = 0.03
    num_leaves: int = 7
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 100
    early_stopping_days: int = 14  # the latest decisions of the training period choose the rounds
    default_rounds: int = 300  # when that slice lacks a class
    n_jobs: int = 1
    random_state: int = 0

    def lgbm_params(self, rounds: int) -> dict:
        params = asdict(self)
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


def feature_frame(features: pl.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """The model's input: exactly the feature columns, Float64, as pandas."""
    return features.select(names or feature_names()).to_pandas()


def _classifier(rows: pl.DataFrame, cfg: ModelConfig, rounds: int) -> lgb.LGBMClassifier:
    """An unfitted classifier whose positives carry the same total weight as the negatives."""
    y, w = rows["y"].to_numpy(), rows["weight"].to_numpy()
    positive = w[y == 1].sum()
    if positive == 0 or positive == w.sum():
        raise ValueError("training needs both abuse and legit examples before the validation window")
    return lgb.LGBMClassifier(**cfg.lgbm_params(rounds), scale_pos_weight=float(w[y == 0].sum() / positive))


def _both_classes(rows: pl.DataFrame) -> bool:
    return rows.height > 0 and 0 < int(rows["y"].sum()) < rows.height


def fit(train: pl.DataFrame, cfg: ModelConfig) -> lgb.LGBMClassifier:
    """Fit on `train` (features, y, weight, decided_at, presumed), choosing the number of rounds
    forward in time and never on the validation window:

    a probe model is fitted on the examples decided before the last `early_stopping_days` of the
    training period and stopped early on the labelled examples decided in those days (average
    precision); the model is then refitted on every training example with that many rounds.
    `rounds_` records the choice."""
    if not _both_classes(train):
        raise ValueError("training needs both abuse and legit examples before the validation window")
    stop_from = train["decided_at"].max() - timedelta(days=cfg.early_stopping_days)
    core = train.filter(pl.col("decided_at") < stop_from)
    holdout = train.filter((pl.col("decided_at") >= stop_from) & ~pl.col("presumed"))
    rounds = cfg.default_rounds
    if _both_classes(core) and _both_classes(holdout):
        probe = _classifier(core, cfg, cfg.n_estimators)
        probe.fit(
            feature_frame(core),
            core["y"].to_numpy(),
            sample_weight=core["weight"].to_numpy(),
            eval_X=(feature_frame(holdout),),
            eval_y=(holdout["y"].to_numpy(),),
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True, verbose=False)],
        )
        rounds = max(int(probe.best_iteration_ or cfg.n_estimators), 1)
    model = _classifier(train, cfg, rounds)
    model.fit(feature_frame(train), train["y"].to_numpy(), sample_weight=train["weight"].to_numpy())
    model.rounds_ = rounds
    model.feature_set_version_ = FEATURE_SET_VERSION
    return model


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


def predict(model: lgb.LGBMClassifier | lgb.Booster, features: pl.DataFrame, names: list[str]) -> np.ndarray:
    """Probability of abuse per row."""
    frame = feature_frame(features, names)
    if isinstance(model, lgb.Booster):
        return model.predict(frame)
    return model.predict_proba(frame)[:, 1]

"""The LightGBM estimator and the feature set it is trained on.

The feature set is named and versioned in ``features.build``; the model records the exact
column list, and ``check_columns`` refuses a table of any other shape before scoring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl

from features.build import FEATURE_SET_VERSION, feature_names


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters. `n_jobs` is explicit: on two cores under load, two LightGBM threads
    were measured far slower than one (docs/benchmarks.md)."""

    n_estimators: int = 1500
    learning_rate: float = 0.03
    num_leaves: int = 7
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample_bytree: float = 0.5
    reg_lambda: float = 1.0
    early_stopping_rounds: int = 100
    n_jobs: int = 1
    random_state: int = 0

    def lgbm_params(self) -> dict:
        params = asdict(self)
        params.pop("early_stopping_rounds")
        return {**params, "subsample_freq": 1, "verbose": -1, "deterministic": True, "force_row_wise": True}


def feature_frame(features: pl.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """The model's input: exactly the feature columns, Float64, as pandas."""
    return features.select(names or feature_names()).to_pandas()


def fit(train: pl.DataFrame, valid: pl.DataFrame, cfg: ModelConfig) -> lgb.LGBMClassifier:
    """Fit on `train` (columns: features, y, weight), stopping early on `valid`.

    Class imbalance: positives are up-weighted so both classes carry the same total weight."""
    y, w = train["y"].to_numpy(), train["weight"].to_numpy()
    positive = w[y == 1].sum()
    if positive == 0 or positive == w.sum():
        raise ValueError("training needs both abuse and legit examples before the validation window")
    model = lgb.LGBMClassifier(**cfg.lgbm_params(), scale_pos_weight=float(w[y == 0].sum() / positive))
    callbacks = [lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)] if valid.height else []
    model.fit(
        feature_frame(train),
        y,
        sample_weight=w,
        eval_X=(feature_frame(valid),) if valid.height else None,
        eval_y=(valid["y"].to_numpy(),) if valid.height else None,
        eval_sample_weight=[valid["weight"].to_numpy()] if valid.height else None,
        eval_metric="average_precision",
        callbacks=callbacks,
    )
    model.feature_set_version_ = FEATURE_SET_VERSION
    return model


def check_columns(features: pl.DataFrame, expected: dict[str, str]) -> None:
    """Raise ValueError, in one line, if `features` lacks a column the model was trained on or
    holds it with another type. `expected` maps column name to polars type name."""
    missing = [c for c in expected if c not in features.columns]
    retyped = [f"{c} is {features.schema[c]} not {t}" for c, t in expected.items() if c in features.columns and str(features.schema[c]) != t]
    problems = ([f"missing {', '.join(missing[:5])}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")] if missing else []) + retyped[:5]
    if problems:
        raise ValueError("feature table does not match the model's signature: " + "; ".join(problems))


def predict(model: lgb.LGBMClassifier | lgb.Booster, features: pl.DataFrame, names: list[str]) -> np.ndarray:
    """Probability of abuse per row."""
    frame = feature_frame(features, names)
    if isinstance(model, lgb.Booster):
        return model.predict(frame)
    return model.predict_proba(frame)[:, 1]

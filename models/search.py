"""The hyper-parameter search: a small, seeded Optuna study judged on the backtest.

Each trial proposes estimator parameters; `judged(params)` trains on every backtest window's
examples and returns that window's figures (models.backtest.judge); the trial's value is the
mean headline figure over the windows. The first trial is the estimator's defaults, so the
search never does worse than them on the backtest. The space lets a pattern with a few dozen
labels get leaves of its own (`min_child_samples` down to 20, up to 31 leaves); it stops short
of leaves small enough to memorise single unlabelled accounts, which the queue must still find.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna

from models.estimator import AbuseClassifier

log = logging.getLogger("buyer_abuse")


@dataclass(frozen=True)
class SearchConfig:
    trials: int = 6  # parameter sets tried, the defaults first
    seed: int = 0
    backtest_days: tuple[int, ...] = (14, 28)  # Δ of each backtest window
    lead_days: int = 21  # the least history a backtest's cut leaves to train on
    bags: int = 3  # boosters averaged in the final fit (one during the search)


def _space(trial: optuna.Trial) -> dict:
    return {
        "num_leaves": trial.suggest_categorical("num_leaves", [7, 15, 31]),
        "min_child_samples": trial.suggest_categorical("min_child_samples", [20, 50, 100]),
        "learning_rate": trial.suggest_float("learning_rate", 0.015, 0.08, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 200, 600, step=100),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 0.8),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.3, 10.0, log=True),
    }


def search(judged: Callable[[dict], list[dict]], cfg: SearchConfig, headline: str) -> tuple[dict, list[dict]]:
    """The chosen estimator parameters and the history: one entry per trial with its params,
    its figures per window and its value (the mean headline figure; NaN when no window could
    judge it). Without any backtest window the defaults are chosen untried."""
    defaults = AbuseClassifier(bags=1).get_params()
    history: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        params = defaults | _space(trial)
        figures = judged(params)
        values = [f[headline] for f in figures if not math.isnan(f.get(headline, math.nan))]
        value = float(np.mean(values)) if values else math.nan
        history.append({"trial": trial.number, "params": params, "figures": figures, "value": value})
        log.info("search trial %d: %s %.4f", trial.number, headline, value)
        return -1.0 if math.isnan(value) else value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed))
    study.enqueue_trial({k: defaults[k] for k in _space_names()})
    study.optimize(objective, n_trials=cfg.trials)
    judged_trials = [h for h in history if not math.isnan(h["value"])]
    if not judged_trials:
        return defaults, history
    best = max(judged_trials, key=lambda h: (h["value"], -h["trial"]))
    return best["params"], history


def _space_names() -> tuple[str, ...]:
    return ("num_leaves", "min_child_samples", "learning_rate", "n_estimators", "colsample_bytree", "reg_lambda")

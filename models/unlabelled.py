"""Presumed-legit rows that look like abusers weigh less.

Most abusers are never labelled, so the unlabelled accounts drawn as presumed legit hold many
of them, and a model fitted on them learns to score exactly the accounts the queue must find
as honest. The rule, a standard one of learning from positive and unlabelled examples:

1. split the accounts into `folds` by a hash of account_id (a whole account in one fold);
2. fit the model on the other folds and score each fold's rows out of sample;
3. multiply the weight of each presumed-legit row by (1 - score) ** `power`.

A presumed-legit row the out-of-sample model finds abusive (score near 1) then barely counts,
one it finds ordinary keeps its weight. Labelled rows are left as they are.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.base import clone

from models.estimator import AbuseClassifier, feature_frame, fit_examples

FOLDS = 5
POWER = 3.0
FOLD_SEED = 11


def out_of_fold_scores(examples: pl.DataFrame, model: AbuseClassifier, names: list[str], folds: int = FOLDS):
    """The score of every row from a copy of `model` fitted without the row's account."""
    fold = (examples["account_id"].hash(seed=FOLD_SEED) % folds).to_numpy()
    scores = np.zeros(examples.height)
    for k in range(folds):
        train, held = examples.filter(pl.Series(fold != k)), fold == k
        if not held.any() or not 0 < int(train["y"].sum()) < train.height:
            scores[held] = 0.0
            continue
        fitted = fit_examples(clone(model), train, names)
        scores[held] = fitted.predict_proba(feature_frame(examples.filter(pl.Series(held)), names))[:, 1]
    return scores


def downweighted(
    examples: pl.DataFrame, model: AbuseClassifier, names: list[str], folds: int = FOLDS, power: float = POWER
) -> pl.DataFrame:
    """`examples` with each presumed-legit row's weight times (1 - its out-of-fold score) ** power."""
    if examples.is_empty():
        return examples
    scores = out_of_fold_scores(examples, model, names, folds)
    presumed = ~examples["labelled"].to_numpy()
    factor = np.where(presumed, (1.0 - scores) ** power, 1.0)
    return examples.with_columns(weight=pl.col("weight") * pl.Series(factor))

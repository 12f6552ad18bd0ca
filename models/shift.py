"""Do the training positives look like the accounts the queue will hold? A check of the tenure
and recency features, the ones that learn *when reviewers act* instead of *what abusers do* when
positives are photographed at another age than the accounts scored.

For each feature, the two-sample Kolmogorov-Smirnov statistic between the training positives'
rows and the top of the queue the trained model produces at T (0: the same distribution, 1:
disjoint), with both medians. A statistic above `THRESHOLD` is a warning in the training log and
a tag of the MLflow run: the model may rank by age rather than by behaviour.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.stats import ks_2samp

FEATURES = ("account_age_days", "first_order_days_ago", "last_order_days_ago")  # tenure and recency
THRESHOLD = 0.3


def tenure_shift(positives: pl.DataFrame, queue: pl.DataFrame, features: tuple[str, ...] = FEATURES) -> list[dict]:
    """One entry per feature present in both frames: feature, positives_median, queue_median,
    ks (NaN when either side has no known value) and shifted (ks > THRESHOLD)."""
    out = []
    for name in features:
        if name not in positives.columns or name not in queue.columns:
            continue
        a, b = (_known(frame[name]) for frame in (positives, queue))
        ks = float(ks_2samp(a, b).statistic) if len(a) and len(b) else math.nan
        out.append(
            {
                "feature": name,
                "positives_median": float(np.median(a)) if len(a) else math.nan,
                "queue_median": float(np.median(b)) if len(b) else math.nan,
                "ks": ks,
                "shifted": bool(ks > THRESHOLD),
            }
        )
    return out


def _known(values: pl.Series) -> np.ndarray:
    return values.drop_nulls().drop_nans().to_numpy().astype(float)

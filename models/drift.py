"""Drift between two runs: the population stability index (PSI) of a distribution.

PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of the previous and the
current values in each bin; bins are the previous run's deciles. Rule of thumb used here:
below 0.1 stable, 0.1-0.25 moderate, above ``PSI_WARN`` (0.25) a shift worth a look.
"""

from __future__ import annotations

import numpy as np

PSI_WARN = 0.25
_FLOOR = 1e-4  # an empty bin would make the logarithm infinite


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """PSI of `actual` against `expected` over the deciles of `expected` (NaNs ignored)."""
    expected, actual = expected[~np.isnan(expected)], actual[~np.isnan(actual)]
    if not len(expected) or not len(actual):
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.maximum(e, _FLOOR), np.maximum(a, _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))

"""Drift between two runs. `column_drift` compares one column by its kind (below); `psi` is the
population stability index, kept for continuous scores where its rule of thumb is familiar.

PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of the previous and the
current values in each bin; bins are the previous run's deciles. Rule of thumb used here:
below 0.1 stable, 0.1-0.25 moderate, above ``PSI_WARN`` (0.25) a shift worth a look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

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


# -- comparing a column by its kind ---------------------------------------------------------------
#
# PSI over the previous run's deciles misreads a column with few distinct values: ties collapse
# the deciles into one or two bins whose edges fall on the values themselves, so a tiny change
# moves a whole bin and PSI reports a shift (4.0 on a count feature between two runs of the same
# data), and an all-null column gives NaN. So each column is compared by its kind, with the
# methods Evidently uses by default on large samples (taken from scipy, already a dependency,
# rather than bringing in Evidently's dependency tree and its telemetry for four statistics):
#
# * categorical (text, bool, or at most LOW_CARDINALITY distinct values on both sides): the
#   Jensen-Shannon distance (base 2, 0..1) between the value frequencies, null counted as a value;
# * continuous: the Wasserstein distance between the present values, in units of the previous
#   run's standard deviation (ties and repeated values need no bins), plus the change in the
#   share of nulls, each against DRIFT_THRESHOLD.

LOW_CARDINALITY = 20
DRIFT_THRESHOLD = 0.1
CATEGORICAL, CONTINUOUS = "categorical", "continuous"
JENSEN_SHANNON, WASSERSTEIN = "jensen-shannon distance", "normed wasserstein distance"


@dataclass(frozen=True)
class ColumnDrift:
    """How one column moved between the previous run (`before`) and this one (`after`)."""

    column: str
    kind: str  # CATEGORICAL or CONTINUOUS
    method: str
    statistic: float  # 0 = the same distribution; finite always
    null_share_before: float
    null_share_after: float
    threshold: float = DRIFT_THRESHOLD

    @property
    def drifted(self) -> bool:
        return self.statistic > self.threshold or abs(self.null_share_after - self.null_share_before) > self.threshold


def kind_of(before: pl.Series, after: pl.Series) -> str:
    """CATEGORICAL for text, bool and low-cardinality columns, CONTINUOUS otherwise."""
    if not before.dtype.is_numeric() or before.dtype == pl.Boolean:
        return CATEGORICAL
    distinct = pl.concat([before.drop_nulls(), after.drop_nulls()]).cast(pl.Float64).fill_nan(None).n_unique()
    return CATEGORICAL if distinct <= LOW_CARDINALITY else CONTINUOUS


def column_drift(column: str, before: pl.Series, after: pl.Series) -> ColumnDrift:
    """Compare one column of two runs by its kind (see above). NaN counts as null."""
    before, after = _nulls_as_null(before), _nulls_as_null(after)
    shares = (_null_share(before), _null_share(after))
    kind = kind_of(before, after)
    if kind == CATEGORICAL:
        return ColumnDrift(column, kind, JENSEN_SHANNON, _jensen_shannon(before, after), *shares)
    return ColumnDrift(column, kind, WASSERSTEIN, _normed_wasserstein(before, after), *shares)


def _nulls_as_null(values: pl.Series) -> pl.Series:
    return values.fill_nan(None) if values.dtype.is_float() else values


def _null_share(values: pl.Series) -> float:
    return float(values.null_count() / len(values)) if len(values) else 0.0


def _jensen_shannon(before: pl.Series, after: pl.Series) -> float:
    p, q = _frequencies(before), _frequencies(after)
    values = sorted(set(p) | set(q), key=str)
    p, q = np.array([p.get(v, 0) for v in values], float), np.array([q.get(v, 0) for v in values], float)
    if not p.sum() or not q.sum():
        return 0.0 if p.sum() == q.sum() else 1.0
    return float(np.nan_to_num(jensenshannon(p, q, base=2)))


def _frequencies(values: pl.Series) -> dict:
    """Count of each value, null included (as None)."""
    counts = values.rename("value").value_counts(name="n")
    return dict(zip(counts["value"].to_list(), counts["n"].to_list(), strict=True))


def _normed_wasserstein(before: pl.Series, after: pl.Series) -> float:
    u = before.drop_nulls().cast(pl.Float64).to_numpy()
    v = after.drop_nulls().cast(pl.Float64).to_numpy()
    if not len(u) or not len(v):
        return 0.0 if len(u) == len(v) else 1.0  # present on one side only: the null shares tell
    scale = float(np.std(u)) or float(np.std(v)) or 1.0  # a constant column: in its own units
    return float(wasserstein_distance(u, v) / scale)

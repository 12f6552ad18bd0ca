"""Feature declarations: each feature's name, meaning, window, unit and family, next to the
expression that computes it. The same declarations drive the computation and the catalogue in
docs/features.md (``python -m features.catalogue > docs/features.md``), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

# How rates over few orders stay sensible: each rate is pulled towards a prior as if
# STRENGTH more orders had been seen at the prior rate.
STRENGTH = 4.0


@dataclass(frozen=True)
class Feature:
    """One output column: `expr` computes it (an aggregation, or a column expression)."""

    name: str
    family: str
    window: str
    unit: str
    meaning: str
    expr: pl.Expr | None = field(default=None, compare=False, repr=False)
    # The value of an account with no rows to aggregate (no orders, no attempts, no ring):
    # zero for counts, the prior for smoothed rates, None where "unknown" is the honest answer.
    fill: float | None = 0.0

    def __post_init__(self) -> None:
        if self.expr is not None:
            object.__setattr__(self, "expr", self.expr.alias(self.name))


@dataclass(frozen=True)
class Windowed:
    """A per-row quantity (a flag or an amount) summed per account over every window: the
    columns `{stem}_{window}`. Sums over nested windows are computed together (see
    `features.time.windowed_sums`), which is what keeps a hundred counts cheap."""

    stem: str
    family: str
    unit: str
    meaning: str
    value: pl.Expr

    def features(self, windows: Iterable[str]) -> list[Feature]:
        return [Feature(f"{self.stem}_{w}", self.family, w, self.unit, self.meaning) for w in windows]


@dataclass(frozen=True)
class WindowedRate:
    """`events / trials` per window, smoothed: the columns `{stem}_{window}`."""

    stem: str
    family: str
    meaning: str
    events: str
    trials: str
    prior: float

    def features(self, windows: Iterable[str]) -> list[Feature]:
        return [
            Feature(
                f"{self.stem}_{w}",
                self.family,
                w,
                "share",
                f"{self.meaning} (prior {self.prior})",
                smoothed_rate(pl.col(f"{self.events}_{w}"), pl.col(f"{self.trials}_{w}"), self.prior),
                fill=self.prior,
            )
            for w in windows
        ]


def smoothed_rate(events: pl.Expr, trials: pl.Expr, prior: float) -> pl.Expr:
    """(events + STRENGTH * prior) / (trials + STRENGTH): a rate that does not jump to 0 or 1
    on one order, and equals the prior for an account with none."""
    return (events + STRENGTH * prior) / (trials + STRENGTH)


def expressions(features: Iterable[Feature]) -> list[pl.Expr]:
    return [f.expr for f in features if f.expr is not None]


def markdown(features: Iterable[Feature]) -> str:
    """The catalogue as a Markdown table, one row per feature column in table order."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from the feature declarations in `features/` by",
        "`python -m features.catalogue > docs/features.md`; a test fails when it is stale.",
        "Windows end at the as-of instant (midnight UTC after the as-of day, exclusive) and reach",
        f"back the number of days named; rates are smoothed with a weight of {STRENGTH:g} orders",
        "at the stated prior. Every feature column is Float64. The table starts with `account_id` and",
        "`ring_id` (the account's ring, `R-<account_id of its founder>`, null outside a ring; not a model",
        "input, see `features/graph.py` for the ring rule).",
        "",
        "| feature | family | window | unit | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{f.name}` | {f.family} | {f.window} | {f.unit} | {f.meaning} |" for f in features]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from features.build import catalogue

    print(markdown(catalogue()), end="")

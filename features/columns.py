"""How a feature column is declared: its name, family, window, unit and meaning, next to the
expression that computes it. The declarations drive both the computation and the catalogue in
docs/features.md (``features.catalogue``), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

import polars as pl

from features.exprs import smoothed_rate


class Unit(StrEnum):
    """What a feature's value counts or measures (shown in the catalogue and in reasons)."""

    DAYS = "days"
    HOURS = "hours"
    MINUTES = "minutes"
    SHARE = "share"
    FLAG = "0/1"
    INDEX = "index 0..1"
    USD = "USD"
    ORDERS = "orders"
    ATTEMPTS = "attempts"
    ACCOUNTS = "accounts"
    INSTRUMENTS = "instruments"
    SELLERS = "sellers"
    ITEMS = "items"
    DEVICES = "devices"
    CARDS = "cards"
    ADDRESSES = "addresses"
    NETS = "nets"
    SESSIONS = "sessions"


# Units whose values are whole counts of things.
COUNTS = frozenset(
    {Unit.ORDERS, Unit.ATTEMPTS, Unit.ACCOUNTS, Unit.INSTRUMENTS, Unit.SELLERS, Unit.ITEMS}
    | {Unit.DEVICES, Unit.CARDS, Unit.ADDRESSES, Unit.NETS, Unit.SESSIONS}
)

# An expression, or a function of the as-of instant t giving one (for windows and ages).
Computation = pl.Expr | Callable[[datetime], pl.Expr]


@dataclass(frozen=True)
class Feature:
    """One output column; `expr` computes it (an aggregation, or a column expression)."""

    name: str
    family: str
    window: str
    unit: Unit
    meaning: str
    expr: Computation | None = field(default=None, compare=False, repr=False)
    # The value of an account with no rows to aggregate (no orders, no attempts, no ring):
    # zero for counts, the prior for smoothed rates, None where "unknown" is the honest answer.
    fill: float | None = 0.0
    # The sources (features.sources) the column is computed from: where the snapshot has none
    # of one of them, the column is null for every account (unknown, not zero).
    needs: tuple[str, ...] = ()

    def at(self, t: datetime | None = None) -> pl.Expr:
        """The expression as of `t` (needed only by a column that depends on it), named after the column."""
        if self.expr is None:
            raise ValueError(f"{self.name} is computed by its family function, not from an expression")
        if isinstance(self.expr, pl.Expr):
            return self.expr.alias(self.name)
        if t is None:
            raise ValueError(f"{self.name} depends on the as-of instant: give t")
        return self.expr(t).alias(self.name)


@dataclass(frozen=True)
class Windowed:
    """A per-row quantity (a flag or an amount) summed per account over every window: the
    columns `{stem}_{window}`. Sums over nested windows are computed together (see
    `features.time.windowed_sums`), which is what keeps a hundred counts cheap."""

    stem: str
    family: str
    unit: Unit
    meaning: str
    value: pl.Expr
    needs: tuple[str, ...] = ()

    def features(self, windows: Iterable[str]) -> list[Feature]:
        return [Feature(f"{self.stem}_{w}", self.family, w, self.unit, self.meaning, needs=self.needs) for w in windows]


@dataclass(frozen=True)
class WindowedRate:
    """`events / trials` per window, smoothed: the columns `{stem}_{window}`."""

    stem: str
    family: str
    meaning: str
    events: str
    trials: str
    prior: float
    needs: tuple[str, ...] = ()

    def features(self, windows: Iterable[str]) -> list[Feature]:
        return [
            Feature(
                f"{self.stem}_{w}",
                self.family,
                w,
                Unit.SHARE,
                f"{self.meaning} (prior {self.prior})",
                smoothed_rate(pl.col(f"{self.events}_{w}"), pl.col(f"{self.trials}_{w}"), self.prior),
                fill=self.prior,
                needs=self.needs,
            )
            for w in windows
        ]


def needing(features: Iterable[Feature], *sources: str) -> list[Feature]:
    """`features` declared as computed from `sources` too (see Feature.needs)."""
    return [replace(f, needs=tuple(dict.fromkeys((*f.needs, *sources)))) for f in features]

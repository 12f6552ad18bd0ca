"""Execution: who runs the feature job and the scoring, on the same feature logic.

The feature logic is ``features.build`` (pure functions of frames and an instant). This module
decides how it runs:

* ``local`` (the default), in this process: ``buckets=1`` computes the per-account families on
  every account at once; ``buckets=N`` runs them one hash bucket of accounts at a time, which
  bounds the working memory of the heavy aggregations to about 1/N (the table is identical,
  tested), with progress shown per bucket. The global steps run once either way.
* ``spark``: every step on Apache Spark (``pipeline.spark_engine``, an optional extra), with
  the same table and scores (tested).

`open_engine` gives either as an object with the same three uses: ``engine.spill`` (where the
snapshot's validated tables should be spilled, or None), ``engine(snapshot, labels, as_of)``
(a feature table on the driver, for training) and ``engine.night(...)`` (the run's feature
table, kept where the engine keeps it, with what the run asks of it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import polars as pl

from features.build import (
    GlobalContext,
    as_of_instant,
    assemble,
    global_context,
    missing_sources,
    per_account,
    point_in_time,
)
from models.estimator import predict
from models.population import is_active
from pipeline.errors import ConfigError
from pipeline.progress import track
from pipeline.settings import ENGINES, SparkSettings
from pipeline.snapshot import Snapshot

BUCKET_SEED = 7  # hash seed of account ids into buckets: any fixed value gives the same table
SPARK_EXTRA = "pip install 'buyer-abuse[spark]'"


def build_local(snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date | datetime, buckets: int = 1):
    """The feature table of `snapshot` as of `as_of` (labels: the snapshot's merged with
    analysts' verdicts), per-account families in `buckets` hash buckets."""
    t = as_of_instant(as_of)
    view = point_in_time(_tables(snapshot, labels), t)
    ctx = global_context(view["orders"])
    if buckets == 1:
        parts = per_account(view["orders"], view["payment_attempts"], view["sessions"], ctx, t)
    else:
        parts = pl.concat(
            [_bucket(view, ctx, t, b, buckets) for b in track(range(buckets), "feature buckets")],
            how="diagonal_relaxed",
        )
    return assemble(view, view["accounts"].collect(), parts, t)


def unknown_families(snapshot: Snapshot, as_of: date | datetime) -> dict[str, list[str]]:
    """The sources the snapshot lacks, each with the feature families it leaves unknown (null)."""
    return missing_sources(point_in_time(_tables(snapshot, snapshot.labels), as_of_instant(as_of)))


def _tables(snapshot: Snapshot, labels: pl.DataFrame | None) -> dict:
    return {
        "accounts": snapshot.accounts,
        "orders": snapshot.orders,
        "payment_attempts": snapshot.payment_attempts,
        "sessions": snapshot.sessions,
        "labels": labels,
    }


def _bucket(view: dict, ctx: GlobalContext, t: datetime, bucket: int, buckets: int) -> pl.DataFrame:
    mine = pl.col("account_id").hash(seed=BUCKET_SEED) % buckets == bucket
    logins = None if view["sessions"] is None else view["sessions"].filter(mine)
    return per_account(view["orders"].filter(mine), view["payment_attempts"].filter(mine), logins, ctx, t)


class LocalNight:
    """The run's feature table in this process, and what the run asks of it."""

    def __init__(self, features: pl.DataFrame) -> None:
        self.features = features
        self.active = features.filter(is_active())
        self.accounts = features.height
        self.empty = features.head(0)

    def score(self, champion) -> pl.DataFrame:
        """account_id, score (probability of abuse) of every active account."""
        score = pl.Series(predict(champion.model, self.active, champion.names), dtype=pl.Float64)
        return self.active.select("account_id", score=score)

    def rows(self, accounts: pl.Series) -> pl.DataFrame:
        return self.features.filter(pl.col("account_id").is_in(accounts.implode()))

    def population(self, columns: list[str]) -> pl.DataFrame:
        return self.active.select(columns)

    def columns(self, columns: list[str]) -> pl.DataFrame:
        return self.features.select("account_id", *[c for c in columns if c != "account_id"])

    def write(self, out: Path) -> None:
        self.features.write_parquet(out)


class LocalEngine:
    """The local engine: whole, or by hash buckets of accounts."""

    spill: Path | None = None

    def __init__(self, buckets: int = 1) -> None:
        self.buckets = buckets

    def __call__(self, snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date | datetime) -> pl.DataFrame:
        return build_local(snapshot, labels, as_of, buckets=self.buckets)

    def night(self, snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date) -> LocalNight:
        return LocalNight(self(snapshot, labels, as_of))


def check_engine(engine: str) -> None:
    """Refuse, in one line and before any work, an engine that cannot run here."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise ConfigError(f"--engine spark needs PySpark, which is not installed: {SPARK_EXTRA}")


@contextmanager
def open_engine(engine: str, spark: SparkSettings | None = None, buckets: int = 1) -> Iterator:
    """The engine named `engine` (``Settings.engine``), ready for the duration of the block."""
    check_engine(engine)
    if engine == "local":
        yield LocalEngine(buckets)
        return
    from pipeline.spark_engine import spark_features  # the optional extra, checked above

    with spark_features(spark or SparkSettings()) as found:
        yield found

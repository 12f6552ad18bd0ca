"""Execution on Apache Spark: the feature table and the scoring of ``features.build`` and
``buyer-abuse run``, with the same results as the local engine (``pipeline.engine``).

Every feature is still computed by the functions of ``features``: each step below is a Spark
shuffle that puts all rows of a set of keys in one group, then a Python worker calls the family
function on that group (``pipeline.spark_frames.grouped_map``). What Spark does itself: the
point-in-time cut of each table is a map, the shuffles and joins move the rows, connected
components are an iterative join (``pipeline.spark_graph``), and the founder rule gives ring ids.

==================  =========================================  =================================
step                grouped by                                 calls
==================  =========================================  =================================
point in time       (row-wise map)                             ``features.time.known_at``
context tables      campaign / destination region / seller     ``features.context.*_context``
per account         account (orders, attempts, sessions,       ``features.build.per_account``,
                    accounts, labels: one tagged union)        ``account_facts``, ``known_abusers``,
                                                               ``entity_links``
e-mail domains      e-mail domain                              ``features.account.account``
entity statistics   entity (links joined with facts)           ``features.entities.entity_stats``
sharing             account (links with their entity's         ``features.entities.entities``,
                    statistics, cogrouped with facts)          ``features.rings.ring_links``
rings               connected components (joins), then ring    ``features.rings.rings``
final table         account                                    ``features.build.feature_table``
present sources     one witness row per table and column       ``features.sources.present_sources``
==================  =========================================  =================================

The context tables are small: they are collected and sent to every per-account group with the
function (a broadcast). Each step's output is written to the staging area and read back
(`Staging.keep`), so no step is computed twice and plans stay short.

Inputs: the commands validate the snapshot on the driver first (``pipeline.snapshot``: one
Parquet file or a directory of partitioned part files per table), then stage the valid rows where
the executors read them, a local directory or any URI Spark writes (``s3a://``, ``abfss://``,
``gs://``, ``hdfs://``, ``file://``): `Staging.put`. docs/spark.md says what runs where.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from contract.tables import polars_schema
from features.account import account
from features.build import TABLE_NAMES, GlobalContext, as_of_instant, feature_table, per_account
from features.context import campaign_context, region_context, seller_context
from features.entities import account_facts, entities, entity_links, entity_stats, known_abusers
from features.rings import ring_links, rings
from features.sources import SOURCES, present_sources
from features.time import known_at
from models.population import is_active
from pipeline import registry, spark_graph, spark_session
from pipeline.progress import Stages
from pipeline.registry import RegisteredModel
from pipeline.settings import SparkSettings
from pipeline.snapshot import Snapshot
from pipeline.spark_frames import (
    TAG,
    Part,
    Schema,
    Tagged,
    arrow_schema,
    collect,
    empty,
    grouped_map,
    spark_schema,
    to_arrow,
    to_polars,
)

log = logging.getLogger("buyer_abuse")

STAGED_ROWS = 1_000_000  # rows per Spark write when inputs are sent to a remote staging URI
Tables = dict[str, Part | None]


# -- staging ------------------------------------------------------------------------------------


def _has_scheme(location: str) -> bool:
    return "://" in location


class Staging:
    """A directory of this job's own, for the validated inputs and every intermediate table,
    removed by `close`. Under a local path (default: a new temporary directory) the driver
    writes the inputs itself; under a URI with a scheme (``s3a://``, ``hdfs://``, ``file://``...)
    Spark writes everything, so the executors of a cluster can read it."""

    def __init__(self, spark: SparkSession, root: str | None = None) -> None:
        self.spark = spark
        name = f"buyer-abuse-{uuid.uuid4().hex[:12]}"
        if root is None:
            self.local: Path | None = Path(tempfile.mkdtemp(prefix=f"{name}-"))
            self.uri = self.local.as_uri()
        elif _has_scheme(root):
            self.local, self.uri = None, f"{root.rstrip('/')}/{name}"
        else:
            self.local = Path(root).resolve() / name
            self.local.mkdir(parents=True)
            self.uri = self.local.as_uri()
        # Validated tables spilled by the driver: inside a local staging area (Spark reads them
        # there), else in a local temporary directory they are sent from.
        self.spill = self.local / "spill" if self.local is not None else Path(tempfile.mkdtemp(prefix=f"{name}-"))

    def path(self, *parts: str) -> str:
        return "/".join([self.uri, *parts])

    def put(self, name: str, frame: pl.DataFrame | pl.LazyFrame, schema: Schema) -> str:
        """Stage a validated table (eager, or a lazy scan of a spilled file); returns its URI."""
        target = self.path("inputs", name)
        spilled = self.spill / f"{name}.parquet"
        if self.local is not None and isinstance(frame, pl.LazyFrame) and spilled.is_file():
            # load_snapshot(spill=self.spill) scans spill/NAME.parquet: read where it lies.
            return spilled.as_uri()
        if self.local is not None:
            out = self.local / "inputs" / f"{name}.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            frame.lazy().select(list(schema)).sink_parquet(out)
            return out.as_uri()
        # Through Spark, a slice at a time, so that the driver's JVM holds one slice.
        writer_mode = "overwrite"
        for batch in frame.lazy().select(list(schema)).collect_batches(chunk_size=STAGED_ROWS):
            part = self.spark.createDataFrame(to_arrow(batch, schema), spark_schema(schema))
            part.write.mode(writer_mode).parquet(target)
            writer_mode = "append"
        if writer_mode == "overwrite":  # no rows: an empty table of that schema
            self.spark.createDataFrame([], spark_schema(schema)).write.mode("overwrite").parquet(target)
        return target

    def keep(self, part: Part, name: str) -> Part:
        """`part` computed once: written under the staging area and read back."""
        where = self.path("work", name)
        part.frame.write.mode("overwrite").parquet(where)
        return Part(self.spark.read.schema(spark_schema(part.schema)).parquet(where), part.schema)

    def keep_tagged(self, result: Tagged, name: str) -> Tagged:
        """A grouped map's outputs computed once, one directory per output."""
        where = self.path("work", name)
        result.frame.write.mode("overwrite").partitionBy(TAG).parquet(where)
        schema = spark_schema({TAG: pl.String, **{n: pl.Struct(s) for n, s in result.outputs.items()}})
        return Tagged(self.spark.read.schema(schema).parquet(where), result.outputs)

    def keep_frame(self, frame: DataFrame, name: str) -> DataFrame:
        where = self.path("work", name)
        frame.write.mode("overwrite").parquet(where)
        return self.spark.read.schema(frame.schema).parquet(where)

    def close(self) -> None:
        shutil.rmtree(self.spill, ignore_errors=True)
        if self.local is not None:
            shutil.rmtree(self.local, ignore_errors=True)
            return
        try:  # through Hadoop's file system API, which knows every scheme Spark does
            jvm = self.spark._jvm  # type: ignore[attr-defined]
            path = jvm.org.apache.hadoop.fs.Path(self.uri)
            path.getFileSystem(self.spark._jsc.hadoopConfiguration()).delete(path, True)  # type: ignore[attr-defined]
        except Exception as exc:  # a leftover directory is not worth failing a finished job
            log.warning("could not remove the staging directory %s: %s", self.uri, exc)


# -- inputs -------------------------------------------------------------------------------------


def stage_snapshot(staging: Staging, snapshot: Snapshot, labels: pl.DataFrame | None) -> Tables:
    """Put the validated snapshot (with `labels` in place of its own) where Spark reads it."""
    tables: Tables = {}
    given = {name: getattr(snapshot, name) for name in TABLE_NAMES} | {"labels": labels}
    for name, frame in given.items():
        if frame is None:
            tables[name] = None
            continue
        schema = dict(polars_schema(name))
        uri = staging.put(name, frame, schema)
        tables[name] = Part(staging.spark.read.schema(spark_schema(schema)).parquet(uri), schema)
    return tables


def input_rows(tables: Tables) -> int:
    """Rows of the large tables (Parquet row counts come from the file footers)."""
    return sum(tables[n].frame.count() for n in ("orders", "payment_attempts", "sessions") if tables.get(n))


# -- the feature job ----------------------------------------------------------------------------


def _cut(batches: Iterator[pa.RecordBatch], name: str, schema: Schema, t: datetime) -> Iterator[pa.RecordBatch]:
    """In a worker: the rows of table `name` known at t (``features.time.known_at``)."""
    for batch in batches:
        frame = known_at(name, to_polars(pa.Table.from_batches([batch]), schema), t)
        yield from to_arrow(frame, schema).to_batches()


def point_in_time(tables: Tables, t: datetime, staging: Staging, job: str) -> Tables:
    """Each table as known at t, computed once (kept under the job's name)."""
    view: Tables = {}
    for name in TABLE_NAMES:
        part = tables.get(name)
        if part is None:
            view[name] = None
            continue
        cut = part.frame.mapInArrow(partial(_cut, name=name, schema=part.schema, t=t), spark_schema(part.schema))
        view[name] = staging.keep(Part(cut, part.schema), f"{job}/view/{name}")
    return view


def reads(function, schema: Schema) -> list[str]:
    """The columns of a one-frame `function` reads: those without which it fails on an empty
    frame (polars resolves every column when it plans). Only those are shuffled."""
    needed = []
    for column in schema:
        try:
            function(empty({c: t for c, t in schema.items() if c != column}))
        except pl.exceptions.PolarsError:
            needed.append(column)
    return needed


def _one(parts: dict[str, pl.DataFrame], function) -> dict[str, pl.DataFrame]:
    return {"out": function(parts["rows"])}


def context_tables(orders: Part, groups: int) -> GlobalContext:
    """``features.build.global_context`` on Spark: each context table grouped by its own key."""
    found = []
    for function, key in (
        (campaign_context, ["campaign_id"]),
        (region_context, ["ship_country", "ship_region"]),
        (seller_context, ["seller_id"]),
    ):
        rows = orders.select(*reads(function, orders.schema))
        found.append(collect(grouped_map({"rows": (rows, key)}, partial(_one, function=function), groups)["out"]))
    return GlobalContext(*found)


def _accounts_step(
    parts: dict[str, pl.DataFrame], ctx: GlobalContext, t: datetime, sessions: bool, labels: bool
) -> dict[str, pl.DataFrame]:
    """In a worker: everything that needs only the rows of a set of accounts."""
    logins = parts["sessions"] if sessions else None
    found = per_account(parts["orders"], parts["payment_attempts"], logins, ctx, t)
    known = known_abusers(parts["labels"] if labels else None, parts["accounts"], t)
    sources = {"orders": parts["orders"], "payment_attempts": parts["payment_attempts"], "sessions": logins}
    return {
        "per_account": found,
        "facts": account_facts(parts["accounts"], found, known, t),
        "links": entity_links(sources),
    }


def _domains_step(parts: dict[str, pl.DataFrame], t: datetime) -> dict[str, pl.DataFrame]:
    return {"account": account(parts["accounts"], t)}


def _split(rows: pl.DataFrame, left: Schema, right: Schema, key: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A joined frame back into its two sides, the right side once per key."""
    return rows.select(list(left)), rows.select(list(right)).unique(subset=key, maintain_order=True)


def _stats_step(parts: dict[str, pl.DataFrame], links: Schema, facts: Schema) -> dict[str, pl.DataFrame]:
    """In a worker: the statistics of a set of entities, from their links and their accounts' facts."""
    link_rows, fact_rows = _split(parts["rows"], links, facts, ["account_id"])
    return {"stats": entity_stats(link_rows, fact_rows)}


def _sharing_step(parts: dict[str, pl.DataFrame], links: Schema, stats: Schema) -> dict[str, pl.DataFrame]:
    """In a worker: the sharing figures and strong links of a set of accounts."""
    link_rows, stat_rows = _split(parts["rows"], links, stats, ["kind", "entity_id"])
    return {
        "sharing": entities(link_rows, stat_rows, parts["facts"]),
        "strong": ring_links(link_rows, stat_rows),
    }


def _rings_step(parts: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """In a worker: the ring columns of a set of rings, from their members' rows."""
    drop = lambda name: parts[name].drop("ring_id")
    return {"ring": rings(parts["members"], drop("facts"), drop("links"), drop("strong"))}


def _final_step(parts: dict[str, pl.DataFrame], known: set[str]) -> dict[str, pl.DataFrame]:
    return {"features": feature_table(parts["account"], parts["per_account"], parts["sharing"], parts["ring"], known)}


def _with_ring(part: Part, ring_of: Part) -> Part:
    return Part(part.frame.join(ring_of.frame, "account_id"), part.schema | ring_of.schema)


def known_sources(view: Tables) -> set[str]:
    """``features.sources.present_sources`` of the view, from a few witness rows per table:
    one row, and one with a value in each column a source is read from."""
    witnesses: dict[str, pl.DataFrame | None] = {}
    for name, part in view.items():
        if part is None:
            witnesses[name] = None
            continue
        columns = sorted({c for places in SOURCES.values() for table, c in places if table == name and c})
        frame = part.frame.limit(1)
        for column in columns:
            frame = frame.unionByName(part.frame.where(F.col(column).isNotNull()).limit(1))
        witnesses[name] = collect(Part(frame, part.schema))
    return present_sources(witnesses)


def build_frame(tables: Tables, as_of: date | datetime, staging: Staging, groups: int, job: str = "features") -> Part:
    """The feature table as of `as_of` as a Spark frame, kept in account_id order: the rows and
    values ``features.build.build_features`` gives on the same tables."""
    t = as_of_instant(as_of)
    step = Stages()
    keep = lambda part, name: staging.keep(part, f"{job}/{name}")
    with step("spark: point in time"):
        view = point_in_time(tables, t, staging, job)
    accounts, orders = view["accounts"], view["orders"]
    assert accounts is not None and orders is not None
    with step("spark: context tables"):
        ctx = context_tables(orders, groups)

    with step("spark: per account"):
        by_account = {name: (view[name], ["account_id"]) for name in TABLE_NAMES if view[name] is not None}
        has = {"sessions": view["sessions"] is not None, "labels": view["labels"] is not None}
        accounts_step = partial(_accounts_step, ctx=ctx, t=t, **has)
        found = staging.keep_tagged(grouped_map(by_account, accounts_step, groups), f"{job}/accounts")
        per_acc, facts, links = found["per_account"], found["facts"], found["links"]
    with step("spark: e-mail domains"):
        domains = grouped_map({"accounts": (accounts, ["email_domain"])}, partial(_domains_step, t=t), groups)
        account_part = keep(domains["account"], "account")

    with step("spark: entity statistics"):
        joined = Part(links.frame.join(facts.frame, "account_id"), links.schema | facts.schema)
        stats_step = partial(_stats_step, links=links.schema, facts=facts.schema)
        stats = keep(grouped_map({"rows": (joined, ["kind", "entity_id"])}, stats_step, groups)["stats"], "stats")
    with step("spark: sharing"):
        with_stats = Part(links.frame.join(stats.frame, ["kind", "entity_id"]), links.schema | stats.schema)
        sharing_step = partial(_sharing_step, links=links.schema, stats=stats.schema)
        inputs = {"rows": (with_stats, ["account_id"]), "facts": (facts, ["account_id"])}
        shared = staging.keep_tagged(grouped_map(inputs, sharing_step, groups), f"{job}/sharing")
        sharing, strong = shared["sharing"], shared["strong"]

    with step("spark: connected components"):
        rounds = iter(range(1 << 20))
        keep_round = lambda frame: staging.keep_frame(frame, f"{job}/components/{next(rounds)}")
        members = spark_graph.ring_membership(
            strong.frame, accounts.frame.select("account_id", "created_at"), keep_round
        )
        ring_of = keep(Part(members, {"account_id": pl.String, "ring_id": pl.String}), "ring_of")
    with step("spark: rings"):
        by_ring = {
            "members": (ring_of, ["ring_id"]),
            "facts": (_with_ring(facts, ring_of), ["ring_id"]),
            "links": (_with_ring(links, ring_of), ["ring_id"]),
            "strong": (_with_ring(strong, ring_of), ["ring_id"]),
        }
        ring = keep(grouped_map(by_ring, _rings_step, groups)["ring"], "ring")

    with step("spark: final table"):
        final = {
            "account": (account_part, ["account_id"]),
            "per_account": (per_acc, ["account_id"]),
            "sharing": (sharing, ["account_id"]),
            "ring": (ring, ["account_id"]),
        }
        table = grouped_map(final, partial(_final_step, known=known_sources(view)), groups)["features"]
        # Kept in account_id order: each part file holds a range of accounts, in order, so the
        # files read in name order are the local engine's table.
        return keep(Part(table.frame.orderBy("account_id"), table.schema), "table")


def sorted_table(part: Part) -> pl.DataFrame:
    """The feature table on the driver, sorted by account_id as the local engine sorts it."""
    return to_polars(part.frame.orderBy("account_id").toArrow(), part.schema)


# -- the engine as the commands use it -------------------------------------------------------------


@dataclass
class SparkFeatures:
    """The Spark engine as the commands use it: the session, a staging area, and the staged
    inputs of the snapshot last seen (a training builds many cut-offs of one snapshot).

    `spill` is where ``pipeline.snapshot.load_snapshot`` should spill the validated tables: with
    a local staging area, Spark then reads those files where they are, copying nothing."""

    spark: SparkSession
    settings: SparkSettings
    staging: Staging
    _staged: tuple[int, int] | None = None
    _tables: Tables | None = None
    _jobs: int = 0

    @property
    def spill(self) -> Path:
        return self.staging.spill

    def tables(self, snapshot: Snapshot, labels: pl.DataFrame | None) -> Tables:
        key = (id(snapshot), id(labels))
        if self._staged != key:
            self._tables = stage_snapshot(self.staging, snapshot, labels)
            self._staged = key
        assert self._tables is not None
        return self._tables

    def frame(self, tables: Tables, as_of: date | datetime) -> Part:
        """The feature table of staged `tables` as a Spark frame, kept in the staging area."""
        groups = spark_session.scale_partitions(self.spark, self.settings, input_rows(tables))
        self._jobs += 1
        log.info("spark: %d shuffle partitions and feature groups", groups)
        return build_frame(tables, as_of, self.staging, groups, job=f"features-{self._jobs}")

    def __call__(self, snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date | datetime) -> pl.DataFrame:
        """``pipeline.engine.build_local``'s table, built on Spark and collected on the driver."""
        return sorted_table(self.frame(self.tables(snapshot, labels), as_of))

    def download(self, part: Part, out: Path) -> None:
        download(self.staging, part, out)

    def night(self, snapshot: Snapshot, labels: pl.DataFrame | None, as_of: date) -> SparkNight:
        """The run's feature table, kept on Spark (``pipeline.run``)."""
        return SparkNight(self, self.frame(self.tables(snapshot, labels), as_of))


@contextmanager
def spark_features(settings: SparkSettings) -> Iterator[SparkFeatures]:
    """A SparkFeatures whose staging area is removed on exit (the session stays for reuse)."""
    spark = spark_session.session(settings)
    staging = Staging(spark, settings.staging)
    try:
        yield SparkFeatures(spark, settings, staging)
    finally:
        staging.close()


def download(staging: Staging, part: Part, out: Path) -> None:
    """A kept table (`Staging.keep`) as one Parquet file `out` on the driver's disk, as the
    local engine writes it: its part files in name order (for the feature table, account_id
    order), one row group or more each, so that the driver holds one part at a time. Written
    under a temporary name and renamed into place when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.parts-", dir=out.parent) as fetched:
        writer = None
        try:
            for i, uri in enumerate(sorted(part.frame.inputFiles())):
                table = pq.read_table(_local_copy(staging, uri, Path(fetched) / f"part-{i:05d}.parquet"))
                writer = writer or pq.ParquetWriter(partial, table.schema)
                writer.write_table(table)
            if writer is None:  # no rows: an empty table of the schema
                pq.write_table(arrow_schema(part.schema).empty_table(), partial)
        finally:
            if writer is not None:
                writer.close()
    partial.replace(out)


def _local_copy(staging: Staging, uri: str, target: Path) -> Path:
    """A part file of the staging area on the driver's disk: itself when local, else a copy."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    # Through Hadoop's file system API, which knows every scheme Spark does.
    jvm = staging.spark._jvm  # type: ignore[attr-defined]
    src, dst = jvm.org.apache.hadoop.fs.Path(uri), jvm.org.apache.hadoop.fs.Path(target.as_uri())
    src.getFileSystem(staging.spark._jsc.hadoopConfiguration()).copyToLocalFile(False, src, dst, True)  # type: ignore[attr-defined]
    return target


# -- the nightly run ------------------------------------------------------------------------------


def _active(batches: Iterator[pa.RecordBatch], schema: Schema) -> Iterator[pa.RecordBatch]:
    """In a worker: the feature rows of the scored population (``models.population``)."""
    for batch in batches:
        frame = to_polars(pa.Table.from_batches([batch]), schema).filter(is_active())
        yield from to_arrow(frame, schema).to_batches()


class SparkNight:
    """The feature table of a run, kept on Spark; the driver collects only what the run's
    shared code needs (``pipeline.run``): the scores of the active accounts, the feature rows
    of the queue, the population's columns the reasons cite, the drift and ring columns."""

    def __init__(self, engine: SparkFeatures, table: Part) -> None:
        self.spark, self.staging, self.table = engine.spark, engine.staging, table
        active = table.frame.mapInArrow(partial(_active, schema=table.schema), spark_schema(table.schema))
        self.active = self.staging.keep(Part(active, table.schema), "night/active")
        self.accounts = table.frame.count()
        self.empty = empty(table.schema)

    def score(self, champion: RegisteredModel) -> pl.DataFrame:
        """account_id, score of every active account: the champion's registered version
        (``pipeline.registry.AbuseScorer``) as an MLflow Spark UDF in this environment."""
        udf = registry.spark_scorer(self.spark, champion.version)
        scored = self.active.frame.select("account_id", udf(F.struct(*champion.names)).alias("score"))
        return collect(Part(scored, {"account_id": pl.String, "score": pl.Float64}))

    def rows(self, accounts: pl.Series) -> pl.DataFrame:
        """The feature rows of `accounts` (the queue)."""
        wanted = self.spark.createDataFrame(pa.table({"account_id": accounts.cast(pl.String).to_arrow()}))
        return collect(Part(self.table.frame.join(F.broadcast(wanted), "account_id"), self.table.schema))

    def population(self, columns: list[str]) -> pl.DataFrame:
        """`columns` of the active accounts (what the reasons rank a value against)."""
        return collect(self.active.select(*columns))

    def columns(self, columns: list[str]) -> pl.DataFrame:
        """account_id and `columns` of every account."""
        return collect(self.table.select("account_id", *[c for c in columns if c != "account_id"]))

    def write(self, out: Path) -> None:
        download(self.staging, self.table, out)

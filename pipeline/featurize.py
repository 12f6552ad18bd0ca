"""`buyer-abuse features`: the account feature table of a snapshot as of a date, as Parquet.

With ``buckets > 1`` the job runs out of core: each validated table is spilled to Parquet as
soon as it is checked, the features read those files lazily with polars' streaming engine, and
the per-account families run one hash bucket of accounts at a time. The table is the same
(tested); the peak memory is about one input table instead of the whole snapshot plus the
aggregations (docs/benchmarks.md).

With ``engine="spark"`` the validated tables are spilled the same way and the features are
built on Spark (``pipeline.spark_engine``); the driver writes the table to the same one
Parquet file, a part of it at a time.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import polars as pl

from contract.values import RuleAction
from pipeline.engine import open_engine
from pipeline.errors import InputError, RejectLimitExceeded, UsageError
from pipeline.files import write_parquet_atomic
from pipeline.progress import Stages
from pipeline.settings import SparkSettings
from pipeline.snapshot import load_snapshot, write_rejects

log = logging.getLogger("buyer_abuse")


def write_features(
    data: Path,
    as_of: date,
    out: Path,
    *,
    buckets: int = 1,
    reject_limit: float = 0.01,
    actions: dict[str, RuleAction] | None = None,
    engine: str = "local",
    spark: SparkSettings | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Validate the snapshot, build the features as of the end of `as_of`, write them to `out`
    (and the snapshot's rejects beside it as `<out stem>.rejects.parquet`, also when the reject
    limit stops the job). Returns the table (local engine), or a scan of what was written
    (Spark). Raises InputError, having written nothing, when no account is registered by then."""
    if engine != "local" and buckets > 1:
        raise UsageError("--buckets is for the local engine: Spark partitions the accounts itself")
    stages = Stages()
    out = Path(out)
    rejects_file = out.with_name(f"{out.stem}.rejects.parquet")
    bounded = buckets > 1
    with ExitStack() as stack:
        executor = stack.enter_context(open_engine(engine, spark, buckets))
        spill = executor.spill
        if bounded:
            out.parent.mkdir(parents=True, exist_ok=True)
            spill = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f".{out.stem}.spill-", dir=out.parent)))
        with stages("validate"):
            try:
                loaded = load_snapshot(data, reject_limit=reject_limit, stages=stages, spill=spill, actions=actions)
            except RejectLimitExceeded as exc:
                write_rejects(exc.rejects, rejects_file)
                raise RejectLimitExceeded(f"{exc} (rejects in {rejects_file})", exc.rejects) from None
        s, rejects = loaded.snapshot, loaded.rejects
        rejected = sum(c["rejected"] for c in loaded.counts.values())
        del loaded
        if engine == "local":
            with stages("features"), pl.Config(engine_affinity="streaming" if bounded else "auto"):
                table = executor(s, s.labels, as_of)
            accounts, width = table.height, table.width
        else:
            labels = None if s.labels is None else s.labels.lazy().collect()
            with stages("features"):
                built = executor.frame(executor.tables(s, labels), as_of)
            accounts, width = built.frame.count(), len(built.schema)
        if accounts == 0:
            raise InputError(f"no account was registered before the end of {as_of}: is --as-of right?")
        with stages("write"):
            write_rejects(rejects, rejects_file)
            if engine == "local":
                write_parquet_atomic(table, out)
            else:
                executor.download(built, out)
                table = pl.scan_parquet(out)
    log.info("%d accounts x %d features as of %s in %s (%d rejected rows)", accounts, width - 2, as_of, out, rejected)
    return table

"""`buyer-abuse features`: the account feature table of a snapshot as of a date, as Parquet.

With ``buckets > 1`` the job runs out of core: each validated table is spilled to Parquet as
soon as it is checked, the features read those files lazily with polars' streaming engine, and
the per-account families run one hash bucket of accounts at a time. The table is the same
(tested); the peak memory is about one input table instead of the whole snapshot plus the
aggregations (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import date
from pathlib import Path

import polars as pl

from pipeline.engine import build_local
from pipeline.files import write_parquet_atomic
from pipeline.progress import Stages
from pipeline.snapshot import load_snapshot, write_rejects

log = logging.getLogger("buyer_abuse")


def write_features(data: Path, as_of: date, out: Path, *, buckets: int = 1, reject_limit: float = 0.01) -> pl.DataFrame:
    """Validate the snapshot, build the features as of the end of `as_of`, write them to `out`
    (and the snapshot's rejects beside it as `<out stem>.rejects.parquet`)."""
    stages = Stages()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bounded = buckets > 1
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}.spill-", dir=out.parent) as spill:
        with stages("validate"):
            loaded = load_snapshot(
                data, reject_limit=reject_limit, stages=stages, spill=Path(spill) if bounded else None
            )
        write_rejects(loaded.rejects, out.with_name(f"{out.stem}.rejects.parquet"))
        s, rejected = loaded.snapshot, sum(c["rejected"] for c in loaded.counts.values())
        del loaded
        with stages("features"), pl.Config(engine_affinity="streaming" if bounded else "auto"):
            table = build_local(s, s.labels, as_of, buckets=buckets)
    with stages("write"):
        write_parquet_atomic(table, out)
    log.info(
        "%d accounts x %d features as of %s in %s (%d rejected rows)",
        table.height,
        table.width - 2,
        as_of,
        out,
        rejected,
    )
    return table

"""`buyer-abuse features`: the account feature table of a snapshot as of a date, as Parquet."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import polars as pl

from features.build import build_features
from pipeline.files import write_parquet_atomic
from pipeline.progress import Stages, track
from pipeline.snapshot import load_snapshot, write_rejects

log = logging.getLogger("buyer_abuse")


def write_features(data: Path, as_of: date, out: Path, *, buckets: int = 1, reject_limit: float = 0.01) -> pl.DataFrame:
    """Validate the snapshot, build the features as of the end of `as_of`, write them to `out`
    (and the snapshot's rejects beside it as `<out stem>.rejects.parquet`)."""
    stages = Stages()
    with stages("validate"):
        loaded = load_snapshot(data, reject_limit=reject_limit, stages=stages)
    s = loaded.snapshot
    with stages("features"):
        table = build_features(
            s.accounts, s.orders, s.payment_attempts, s.sessions, s.labels, as_of=as_of, buckets=buckets, track=track
        )
    with stages("write"):
        write_parquet_atomic(table, out)
        write_rejects(loaded.rejects, out.with_name(f"{out.stem}.rejects.parquet"))
    log.info("%d accounts x %d features as of %s in %s (%d rejected rows)", table.height, table.width - 2, as_of, out,
             sum(c["rejected"] for c in loaded.counts.values()))  # fmt: skip
    return table

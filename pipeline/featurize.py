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
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import polars as pl

from contract.values import RuleAction
from pipeline.engine import build_local
from pipeline.errors import InputError, RejectLimitExceeded
from pipeline.files import write_parquet_atomic
from pipeline.progress import Stages
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
) -> pl.DataFrame:
    """Validate the snapshot, build the features as of the end of `as_of`, write them to `out`
    (and the snapshot's rejects beside it as `<out stem>.rejects.parquet`, also when the reject
    limit stops the job). Raises InputError, having written nothing, when no account is
    registered by then."""
    stages = Stages()
    out = Path(out)
    rejects_file = out.with_name(f"{out.stem}.rejects.parquet")
    bounded = buckets > 1
    with ExitStack() as stack:
        spill = None
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
        with stages("features"), pl.Config(engine_affinity="streaming" if bounded else "auto"):
            table = build_local(s, s.labels, as_of, buckets=buckets)
    if table.is_empty():
        raise InputError(f"no account was registered before the end of {as_of}: is --as-of right?")
    with stages("write"):
        write_rejects(rejects, rejects_file)
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

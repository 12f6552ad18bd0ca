"""The nightly job as Dagster assets, partitioned by day: snapshot check -> features -> scores ->
review queue. An example for sites that schedule with an orchestrator rather than cron
(docs/operations.md); it calls the library, not the shell.

Install with ``pip install "buyer-abuse[orchestrator]"`` and load with
``dagster dev -m pipeline.orchestration``; the resource reads the same variables as the CLI
(``BUYER_ABUSE_DATA`` for the snapshot directory, ``BUYER_ABUSE_REVIEW_DB``,
``MLFLOW_TRACKING_URI``, ``BUYER_ABUSE_RUNS``). A partition is a scoring date: Dagster offers
only days that have ended in UTC, as ``buyer-abuse run`` requires.

* ``snapshot_check`` runs every pre-flight check of ``buyer-abuse run`` and validates the
  snapshot (row, reject and repair counts as metadata): bad input fails here, before anything
  is written.
* ``features``, ``scores`` and ``review_queue`` are made together by ``pipeline.run.run``, the
  same atomic step as the CLI (locks, the partial directory moved into place, one review-table
  transaction), so a re-run of a partition is idempotent. A run of the date in progress
  elsewhere (exit code 75) asks Dagster to retry later.
"""

from datetime import date
from pathlib import Path

import dagster as dg

from pipeline import preflight, rundirs
from pipeline.errors import TemporaryFailure
from pipeline.run import run
from pipeline.settings import DEFAULT_CAPACITY, DEFAULT_REJECT_LIMIT, Settings
from pipeline.snapshot import load_snapshot, summarize

START_DATE = "2026-01-01"  # the first scoring date offered; change it for your market
RETRY_SECONDS = 600  # how long to wait before retrying a date another run holds


class BuyerAbuse(dg.ConfigurableResource):
    """Where the nightly job reads and writes: the settings of ``buyer-abuse run``."""

    data: str  # the snapshot directory
    review_db: str
    tracking_uri: str
    runs: str
    capacity: int = DEFAULT_CAPACITY
    reject_limit: float = DEFAULT_REJECT_LIMIT

    def settings(self) -> Settings:
        return Settings(
            review_db=self.review_db,
            tracking_uri=self.tracking_uri,
            runs=Path(self.runs),
            capacity=self.capacity,
            reject_limit=self.reject_limit,
        )


daily = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.asset(partitions_def=daily, group_name="nightly")
def snapshot_check(context: dg.AssetExecutionContext, buyer_abuse: BuyerAbuse) -> dg.MaterializeResult:
    """The snapshot is usable for this date: every input checked, the rows validated."""
    settings, data = buyer_abuse.settings(), Path(buyer_abuse.data)
    preflight.check_run(data, _day(context), settings)
    loaded = load_snapshot(data, reject_limit=settings.reject_limit, actions=settings.actions)
    summary = summarize(loaded)
    return dg.MaterializeResult(
        metadata={
            "rows": sum(c["rows"] for c in summary["tables"].values()),
            "rejected_rows": summary["rejected_rows"],
            "repaired_rows": summary["repaired_rows"],
        }
    )


@dg.multi_asset(
    partitions_def=daily,
    group_name="nightly",
    specs=[
        dg.AssetSpec("features", deps=[snapshot_check], description="features.parquet of the run directory"),
        dg.AssetSpec("scores", deps=["features"], description="scores.parquet: every active account, ranked"),
        dg.AssetSpec("review_queue", deps=["scores"], description="the date's rows of the review table"),
    ],
)
def nightly_run(context: dg.AssetExecutionContext, buyer_abuse: BuyerAbuse):
    """`buyer-abuse run` for the partition's date (one atomic step: see the module docstring)."""
    settings, day = buyer_abuse.settings(), _day(context)
    try:
        summary = run(Path(buyer_abuse.data), day, settings)
    except TemporaryFailure as exc:
        raise dg.RetryRequested(max_retries=3, seconds_to_wait=RETRY_SECONDS) from exc
    directory = rundirs.run_dir(settings.runs, day)
    yield dg.MaterializeResult(
        asset_key="features",
        metadata={"path": str(directory / "features.parquet"), "accounts": summary["accounts"]},
    )
    yield dg.MaterializeResult(
        asset_key="scores", metadata={"path": str(directory / "scores.parquet"), "scored": summary["scored"]}
    )
    yield dg.MaterializeResult(
        asset_key="review_queue",
        metadata={
            "queued": summary["queued"],
            "kept_for_analysts": summary["kept_for_analysts"],
            "model": summary["model"],
            "drift_warnings": len(summary["drift"].get("warnings", [])),
        },
    )


nightly_job = dg.define_asset_job("nightly", selection=[snapshot_check, nightly_run])

defs = dg.Definitions(
    assets=[snapshot_check, nightly_run],
    jobs=[nightly_job],
    schedules=[dg.build_schedule_from_partitioned_job(nightly_job, hour_of_day=2, minute_of_hour=30)],
    resources={
        "buyer_abuse": BuyerAbuse(
            data=dg.EnvVar("BUYER_ABUSE_DATA"),
            review_db=dg.EnvVar("BUYER_ABUSE_REVIEW_DB"),
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"),
            runs=dg.EnvVar("BUYER_ABUSE_RUNS"),
        )
    },
)

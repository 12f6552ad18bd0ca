"""The Dagster example (pipeline.orchestration) with Dagster's own in-process harness: the
definitions load, one daily partition materialises snapshot check -> features -> scores ->
review queue, and materialising it again leaves the same review table and scores."""

from __future__ import annotations

from pathlib import Path

import dagster as dg  # the orchestrator extra, which the test extra installs
import polars as pl
import pytest
from e2e import AS_OF, Champion
from pandas.testing import assert_frame_equal

from pipeline.orchestration import BuyerAbuse, defs, nightly_run, snapshot_check
from pipeline.review_db import connect, read_queue

pytestmark = pytest.mark.slow


def test_the_definitions_load_with_a_daily_schedule():
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("nightly")
    assert job.partitions_def.get_partition_keys()[0] == "2026-01-01"
    assert {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()} == {
        "snapshot_check",
        "features",
        "scores",
        "review_queue",
    }


def test_one_partition_materialises_and_a_rerun_is_idempotent(market: Path, champion: Champion, tmp_path: Path):
    review = f"sqlite:///{tmp_path / 'review.db'}"
    resource = BuyerAbuse(
        data=str(market), review_db=review, tracking_uri=champion.uri, runs=str(tmp_path / "runs"), capacity=25
    )
    instance = dg.DagsterInstance.ephemeral()

    def materialise() -> dg.ExecuteInJobResult:
        return dg.materialize(
            [snapshot_check, nightly_run],
            partition_key=AS_OF.isoformat(),
            resources={"buyer_abuse": resource},
            instance=instance,
        )

    first = materialise()

    assert first.success
    materialised = {e.asset_key.to_user_string() for e in first.get_asset_materialization_events()}
    assert materialised == {"snapshot_check", "features", "scores", "review_queue"}
    queue = read_queue(connect(review), AS_OF)
    assert len(queue) == 25
    scores = pl.read_parquet(tmp_path / "runs" / f"as_of={AS_OF}" / "scores.parquet")

    again = materialise()

    assert again.success
    assert_frame_equal(read_queue(connect(review), AS_OF), queue)
    assert pl.read_parquet(tmp_path / "runs" / f"as_of={AS_OF}" / "scores.parquet").equals(scores)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [f"as_of={AS_OF}"]

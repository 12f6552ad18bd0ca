"""The Spark engine, on a real Spark in local mode (one session for the whole test session):
`buyer-abuse run --engine spark` gives the local engine's feature table (floats to 1e-9, the
same rings and ring ids), scores (to 1e-9) and review queue, on a simulated market and on one
without its optional tables; the Spark engine on the full snapshot gives what it gives on the
snapshot exported at the as-of instant; and a machine without PySpark or Java is told so in one
line.

Spark's fixed costs (a job per step, Python workers) make each feature build take tens of
seconds even on these small markets, so each engine runs once per market (`runs`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from e2e import Champion, invoke, one_line, settings_in
from exports import TABLES, exported_at
from polars.testing import assert_frame_equal

from features.time import as_of_end
from pipeline.errors import EX_CONFIG
from pipeline.review_db import connect, read_queue
from pipeline.run import run
from pipeline.rundirs import run_dir
from pipeline.settings import ENGINES
from simulator import MarketConfig, write_market

pytestmark = pytest.mark.slow

MARKET = MarketConfig(accounts=800, days=40, seed=21)
AS_OF = MARKET.start + timedelta(days=29)  # ten days of later data that must change nothing
OPTIONAL = ("sessions", "labels")  # the contract's optional tables
KINDS = ("full", "without optional tables")
CAPACITY = 40
FLOATS = {"check_exact": False, "rel_tol": 0, "abs_tol": 1e-9}


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """MARKET as a snapshot directory, and the same without its optional tables."""
    full = tmp_path_factory.mktemp("spark-market")
    write_market(MARKET, full)
    bare = tmp_path_factory.mktemp("spark-market-bare")
    for name in TABLES:
        if name not in OPTIONAL:
            (bare / f"{name}.parquet").write_bytes((full / f"{name}.parquet").read_bytes())
    return {"full": full, "without optional tables": bare}


@pytest.fixture(scope="module")
def runs(
    markets: dict[str, Path], champion: Champion, spark, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, dict]]:
    """runs(kind): for each engine, the run directory and the review queue of `buyer-abuse run`
    as of AS_OF on that market, scored by the session's champion; each made once."""
    done: dict[str, dict[str, dict]] = {}

    def of(kind: str) -> dict[str, dict]:
        if kind not in done:
            home = tmp_path_factory.mktemp("spark-runs")
            done[kind] = {}
            for engine in ENGINES:
                settings = settings_in(
                    home,
                    tracking_uri=champion.uri,
                    engine=engine,
                    runs=home / engine,
                    review_db=f"sqlite:///{home / engine}.db",
                    capacity=CAPACITY,
                )
                with pytest.MonkeyPatch.context() as mp:
                    mp.chdir(home)
                    run(markets[kind], AS_OF, settings)
                engine_db = connect(settings.review_db, create=False)
                try:
                    queue = read_queue(engine_db, AS_OF)
                finally:
                    engine_db.dispose()
                done[kind][engine] = {"dir": run_dir(settings.runs, AS_OF), "review_queue": queue}
        return done[kind]

    return of


def output(runs: dict[str, dict], engine: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(runs[engine]["dir"] / name)


@pytest.mark.parametrize("kind", KINDS)
def test_the_spark_feature_table_is_the_local_one(runs, kind: str) -> None:
    found = runs(kind)
    local, spark = output(found, "local", "features.parquet"), output(found, "spark", "features.parquet")

    assert local.height > 700  # the market's accounts registered by AS_OF, not a near-empty table
    assert_frame_equal(spark, local, **FLOATS)
    # Rings: the same members under the same ids (the founder rule), in a market that has some.
    members = lambda table: {
        ring: frozenset(ids)
        for ring, ids in table.drop_nulls("ring_id").group_by("ring_id").agg("account_id").iter_rows()
    }
    assert members(spark) == members(local)
    assert len(members(local)) >= 3


@pytest.mark.parametrize("kind", KINDS)
def test_the_champion_scores_every_account_alike_on_both_engines(runs, kind: str) -> None:
    found = runs(kind)
    local, spark = output(found, "local", "scores.parquet"), output(found, "spark", "scores.parquet")

    assert local.height > 500
    assert_frame_equal(spark, local, **FLOATS)
    assert local["score"].n_unique() > local.height // 2  # real scores, not a constant


@pytest.mark.parametrize("kind", KINDS)
def test_the_review_queue_is_identical(runs, kind: str) -> None:
    found = runs(kind)
    local, spark = found["local"]["review_queue"], found["spark"]["review_queue"]

    assert len(local) == CAPACITY
    text = [c for c in local.columns if c != "score"]
    assert spark[text].equals(local[text]), spark.compare(local)  # accounts, ranks, rings, reasons...
    np.testing.assert_allclose(spark["score"], local["score"], rtol=0, atol=1e-9)
    assert_frame_equal(output(found, "spark", "queue.parquet"), output(found, "local", "queue.parquet"), **FLOATS)


def test_spark_on_the_full_snapshot_equals_spark_on_the_snapshot_exported_at_as_of(runs, markets, tmp_path) -> None:
    full = output(runs("full"), "spark", "features.parquet")  # the Spark run's table as of AS_OF
    tables = {name: pl.read_parquet(markets["full"] / f"{name}.parquet") for name in TABLES}
    t = as_of_end(AS_OF)
    assert tables["orders"].filter(pl.col("placed_at") >= t).height > 0  # there is later data to ignore
    cut = tmp_path / "exported"
    cut.mkdir()
    for name, frame in exported_at(tables, t).items():
        frame.write_parquet(cut / f"{name}.parquet")

    code, _, err = invoke("features", "--engine", "spark", "--data", cut, "--as-of", AS_OF, "--out", tmp_path / "f")

    assert (code, err) == (0, "")
    assert_frame_equal(pl.read_parquet(tmp_path / "f"), full)


def cli(tmp_path: Path, *args: str, environment: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess:
    """`buyer-abuse ARGS` in a fresh interpreter (this one already runs Spark), after `prelude`."""
    program = f"import sys\n{prelude}\nfrom pipeline.cli import main\nsys.argv = ['buyer-abuse', *sys.argv[1:]]\nmain()"
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        cwd=tmp_path,
        env=os.environ | environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_pyspark_asking_for_spark_says_what_to_install_in_one_line(markets, tmp_path) -> None:
    # An interpreter where `import pyspark` fails, as where the spark extra is not installed.
    hide = "sys.modules['pyspark'] = None"
    args = ("features", "--engine", "spark", "--data", str(markets["full"]), "--as-of", str(AS_OF), "--out", "f")

    done = cli(tmp_path, *args, environment={}, prelude=hide)

    assert done.returncode == EX_CONFIG
    assert one_line(done.stderr) == (
        "--engine spark needs PySpark, which is not installed: pip install 'buyer-abuse[spark]'"
    )
    assert list(tmp_path.iterdir()) == []  # refused before writing anything


def test_without_java_spark_says_so_in_one_line(markets, tmp_path) -> None:
    args = ("features", "--engine", "spark", "--data", str(markets["full"]), "--as-of", str(AS_OF), "--out", "f")

    done = cli(tmp_path, *args, environment={"JAVA_HOME": str(tmp_path / "no-java")})

    assert done.returncode == EX_CONFIG
    assert "Spark's launcher exited before Spark started: Spark needs Java 17" in one_line(done.stderr)
    assert not (tmp_path / "f").exists()

"""The Spark session of a command, from the typed settings (``Settings.spark``).

* Master: ``--spark-master`` / ``BUYER_ABUSE_SPARK_MASTER``, default ``local[*]`` (Spark in
  this process, one task per core). Under ``spark-submit`` the CLI leaves it unset, so that
  the cluster manager spark-submit was given decides (docs/spark.md).
* Always: instants cross between Spark and Python in UTC (the contract's time zone), and no
  console progress bar (stderr carries only the one line of a failure).
* Local masters get local defaults (``LOCAL_DEFAULTS``): more driver memory than Spark's 1 GiB
  (in local mode the driver is the executor too), no web UI (a shared machine's ports), Spark's
  own log on stdout at warning level; ``--spark-conf KEY=VALUE`` overrides any of them.
* Shuffle partitions follow the data (`scale_partitions`), unless set with ``--spark-conf``.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from importlib import resources

from pyspark import SparkConf, SparkContext
from pyspark.errors import PySparkException
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession

from pipeline.errors import ConfigError
from pipeline.settings import SparkSettings

log = logging.getLogger("buyer_abuse")

APP_NAME = "buyer-abuse"
ALWAYS = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
LOCAL_DEFAULTS = {
    "spark.driver.memory": "4g",
    "spark.ui.enabled": "false",
    # Python workers start once per core and stay (each imports polars and the features).
    "spark.python.worker.reuse": "true",
}
LOG_CONFIG = "spark-log4j2.properties"  # beside this module; Spark's log on stdout
ROWS_PER_PARTITION = 1_000_000  # input rows per shuffle partition (and per feature group)
PARTITIONS = "spark.sql.shuffle.partitions"
JAVA_HINT = "$JAVA_HOME/bin/java, else java on the PATH; Debian: apt-get install openjdk-17-jre-headless"


def is_local(master: str | None) -> bool:
    return master is not None and master.startswith("local")


def session(settings: SparkSettings) -> SparkSession:
    """The Spark session to run on: the active one if this process has one (tests, a backfill's
    later dates, a notebook), else a new one from `settings`. Raises ConfigError, in one line,
    when Spark cannot start (no Java, a bad master)."""
    chosen = dict(settings.conf)
    active = SparkSession.getActiveSession()
    if active is not None:
        for key, value in (chosen | ALWAYS).items():
            try:
                active.conf.set(key, value)
            except PySparkException:  # a static setting of a session already started: it stays
                log.debug("spark setting %s is fixed for the running session", key)
        return active
    conf = SparkConf(loadDefaults=False).setAppName(APP_NAME)
    if settings.master is not None:
        conf.setMaster(settings.master)
    if is_local(settings.master):
        # The workers are processes this machine starts for the session; they must import this
        # package, so they run the interpreter running now (its virtual environment), not
        # whatever `python3` is first on the PATH. PySpark reads the variable when the session
        # starts. On a cluster the executors' interpreter is the cluster's (docs/spark.md).
        os.environ.update(PYSPARK_PYTHON=sys.executable)
        config = resources.files("pipeline").joinpath(LOG_CONFIG)
        conf.setAll(
            (LOCAL_DEFAULTS | {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{config}"}).items()
        )
    conf.setAll((chosen | ALWAYS).items())
    try:
        # The JVM writes its own start-up notes on stderr; they join the progress on stdout.
        # (Under spark-submit the JVM is already running, and this starts nothing.)
        gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.STDOUT})
        SparkContext(conf=conf, gateway=gateway)
        spark = SparkSession.builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: say why in one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "JAVA_GATEWAY_EXITED" in str(exc):
            # Spark's launcher runs $JAVA_HOME/bin/java, else `java` on the PATH, and exits at once
            # without one (its own words are on stdout); a missing Java is by far the usual cause.
            first = f"Spark's launcher exited before Spark started: Spark needs Java 17 ({JAVA_HINT})"
        raise ConfigError(f"Spark could not start (master {settings.master or 'from spark-submit'}): {first}") from None
    log.info(
        "spark %s, master %s, %d cores", spark.version, spark.sparkContext.master, spark.sparkContext.defaultParallelism
    )
    return spark


def scale_partitions(spark: SparkSession, settings: SparkSettings, rows: int) -> int:
    """Set the shuffle partitions for a job over `rows` input rows, unless the settings (or
    spark-submit) chose them: one per ROWS_PER_PARTITION rows, at least one per core. Returns
    the count in force, which is also how many hash groups each grouped step makes."""
    if PARTITIONS in dict(settings.conf) or spark.sparkContext.getConf().contains(PARTITIONS):
        return int(spark.conf.get(PARTITIONS))
    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(rows / ROWS_PER_PARTITION))
    spark.conf.set(PARTITIONS, str(partitions))
    return partitions

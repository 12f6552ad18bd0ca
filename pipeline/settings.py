"""Typed settings, resolved once at the entry point and passed in.

Each setting comes from its command-line option, else its environment variable, else the
default below (``Settings.defaults``). The CLI does that resolution (click's own option >
environment > default order) and hands a frozen ``Settings`` to the library; nothing below the
CLI reads the environment or the working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contract.tables import default_actions
from contract.values import RuleAction

DEFAULT_CAPACITY = 200  # accounts queued per run: what a small review team clears in a day
DEFAULT_REJECT_LIMIT = 0.01  # largest share of a table that may break the contract
ENGINES = ("local", "spark")  # who runs the features and the scoring (docs/spark.md)
DEFAULT_SPARK_MASTER = "local[*]"  # Spark in this process, one worker thread per core
SPARK_SUBMIT_GATEWAY = "PYSPARK_GATEWAY_PORT"  # set by spark-submit, which hands its JVM to Python

# The environment variable of each setting. MLflow's own variable selects the tracking store,
# as everywhere in MLflow.
ENVIRONMENT = {
    "review_db": "BUYER_ABUSE_REVIEW_DB",
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "runs": "BUYER_ABUSE_RUNS",
    "capacity": "BUYER_ABUSE_CAPACITY",
    "reject_limit": "BUYER_ABUSE_REJECT_LIMIT",
    "rule_actions": "BUYER_ABUSE_RULE_ACTIONS",
    "engine": "BUYER_ABUSE_ENGINE",
    "spark_master": "BUYER_ABUSE_SPARK_MASTER",
    "spark_conf": "BUYER_ABUSE_SPARK_CONF",
    "spark_staging": "BUYER_ABUSE_SPARK_STAGING",
    "users_file": "BUYER_ABUSE_USERS",
}


@dataclass(frozen=True)
class SparkSettings:
    """What the Spark engine starts and where it stages its inputs (docs/spark.md)."""

    master: str | None = DEFAULT_SPARK_MASTER  # None: the one spark-submit was given
    conf: tuple[tuple[str, str], ...] = ()  # extra Spark settings, KEY=VALUE
    staging: str | None = None  # a directory or a URI Spark can write; None: a temporary local directory


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes, and its limits."""

    review_db: str  # SQLAlchemy URL of the review database
    tracking_uri: str  # MLflow tracking (and registry) store
    runs: Path  # run directories RUNS/as_of=DATE/ go here
    capacity: int = DEFAULT_CAPACITY  # accounts written to the review queue per run
    reject_limit: float = DEFAULT_REJECT_LIMIT
    # (rule id, action) for validation rules with a stated repair (contract.tables.REPAIRS);
    # a rule not named keeps its default action.
    rule_actions: tuple[tuple[str, RuleAction], ...] = tuple(default_actions().items())
    engine: str = "local"  # one of ENGINES
    # The Spark engine: the master to start a session with (under spark-submit, its --master
    # wins), extra Spark settings (key, value), and where the validated tables are put for the
    # executors (a directory, or a URI Spark can write; None: a temporary local directory).
    spark_master: str | None = DEFAULT_SPARK_MASTER
    spark_conf: tuple[tuple[str, str], ...] = ()
    spark_staging: str | None = None
    users_file: Path | None = None  # the review app's users (names, roles, password hashes)

    @property
    def actions(self) -> dict[str, RuleAction]:
        """The action of every repairable rule: the defaults, overridden by `rule_actions`."""
        return default_actions() | dict(self.rule_actions)

    @property
    def spark(self) -> SparkSettings:
        return SparkSettings(self.spark_master, self.spark_conf, self.spark_staging)

    @classmethod
    def defaults(cls, workdir: Path) -> Settings:
        """The embedded defaults: a SQLite review database and a SQLite MLflow store in `workdir`
        (artifacts in ``workdir/mlruns``), run directories in ``workdir/runs``, the review app's
        user file ``workdir/users.json``."""
        workdir = Path(workdir).resolve()
        return cls(
            review_db=f"sqlite:///{workdir / 'review.db'}",
            tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}",
            runs=workdir / "runs",
            users_file=workdir / "users.json",
        )

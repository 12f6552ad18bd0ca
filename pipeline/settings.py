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

# The environment variable of each setting. MLflow's own variable selects the tracking store,
# as everywhere in MLflow.
ENVIRONMENT = {
    "review_db": "BUYER_ABUSE_REVIEW_DB",
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "runs": "BUYER_ABUSE_RUNS",
    "capacity": "BUYER_ABUSE_CAPACITY",
    "reject_limit": "BUYER_ABUSE_REJECT_LIMIT",
    "rule_actions": "BUYER_ABUSE_RULE_ACTIONS",
    "users_file": "BUYER_ABUSE_USERS",
}


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
    users_file: Path | None = None  # the review app's users (names, roles, password hashes)

    @property
    def actions(self) -> dict[str, RuleAction]:
        """The action of every repairable rule: the defaults, overridden by `rule_actions`."""
        return default_actions() | dict(self.rule_actions)

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

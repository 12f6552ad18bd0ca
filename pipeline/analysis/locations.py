"""Where things are and reading them: paths, URLs, run directories, the snapshot, labels, truth.

Locations are given as a notebook gives them: paths (relative to the working directory) and
SQLAlchemy / MLflow URLs. A relative SQLite URL (``sqlite:///../demo/review.db``) is read
relative to the working directory too, and a SQLite file that does not exist is an error here
rather than a new empty database. Run directories are named by ``pipeline.rundirs`` alone.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from features.time import as_of_day, as_of_end
from models.dataset import labels_in_force, merge_labels
from pipeline import review_db, rundirs
from pipeline.errors import ConfigError, InputError
from pipeline.snapshot import Snapshot, load_snapshot

Data = Snapshot | str | Path  # a loaded snapshot, or its directory
Day = date | datetime | str  # a date, a datetime (its UTC date) or "YYYY-MM-DD"

TRUTH_FILE = "truth.parquet"  # beside a simulated snapshot (contract.outputs.TRUTH)


def as_date(value: Day) -> date:
    """The day `value` names, read by the project's one rule (``features.time.as_of_day``: a
    date, a datetime's UTC date, or text YYYY-MM-DD); anything else is a wrong notebook
    parameter (ConfigError)."""
    try:
        return as_of_day(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def sqlite_url(url: str) -> str:
    """`url` with a relative SQLite path made absolute (from the working directory); other URLs
    unchanged. Raises InputError when the SQLite file does not exist: a mistyped notebook
    parameter must not create a new, empty database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    path = Path(parsed.database).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"no SQLite database at {path} (from {url}); run ./scripts/demo or fix the parameter")
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def run_dir(runs: str | Path, as_of: Day | None = None) -> Path:
    """The complete run directory of `as_of` under `runs` (named as ``pipeline.rundirs`` names
    it), or the latest complete one when None."""
    runs = Path(runs)
    if as_of is None:
        done = rundirs.complete_runs(runs)
        if not done:
            raise InputError(f"no complete run under {runs.resolve()}; run `buyer-abuse run` first")
        return done[-1]
    found = rundirs.run_dir(runs, as_date(as_of))
    if not rundirs.is_complete(found):
        raise InputError(f"no complete run for {as_date(as_of)} at {found.resolve()}")
    return found


def run_summary(run: str | Path) -> dict:
    """The run's summary.json as a dict."""
    return json.loads((Path(run) / rundirs.SUMMARY).read_text())


def run_as_of(run: str | Path) -> date:
    """The scoring date of the run, from its summary."""
    return as_date(run_summary(run)["as_of"])


def snapshot(data: Data) -> Snapshot:
    """The snapshot's valid rows (``pipeline.snapshot.load_snapshot``); a Snapshot is returned as is."""
    return data if isinstance(data, Snapshot) else load_snapshot(Path(data)).snapshot


def review_engine(url: str | sa.Engine) -> sa.Engine:
    """An engine on the review database (``review_db.connect``); a missing SQLite file is an error."""
    return url if isinstance(url, sa.Engine) else review_db.connect(sqlite_url(url))


def labels_at(data: Data, review: str | sa.Engine | None, as_of: Day) -> pd.DataFrame:
    """Labels in force at the end of `as_of`, as the batch run sees them: the snapshot's labels
    plus analysts' verdicts decided by then. Columns account_id, label ('abuse'/'legit'), decided_at."""
    t = as_of_end(as_date(as_of))
    verdicts = review_db.verdict_labels(review_engine(review), until=t) if review is not None else None
    labels = merge_labels(snapshot(data).labels, verdicts)
    if labels is None:
        return pd.DataFrame(
            {
                "account_id": pd.Series(dtype="str"),
                "label": pd.Series(dtype="str"),
                "decided_at": pd.Series(dtype="datetime64[us, UTC]"),
            }
        )
    return labels_in_force(labels, t).sort("account_id").to_pandas()


def truth(data: str | Path) -> pd.DataFrame | None:
    """The simulator's truth.parquet beside the snapshot (account_id, is_abuser, pattern, group,
    remote, first_abuse_at), or None for real data."""
    path = Path(data) / TRUTH_FILE
    return pd.read_parquet(path) if path.is_file() else None
